// `npm run make-test-model -- --out FILE [...]`: writes the tiny deterministic test model (and
// optionally a LoRA adapter for it) for manual runs of the engine and benchmarks.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';

import { CliError } from '../src/cli/cli-error.js';
import { parseCommandArgs } from '../src/cli/args.js';
import { writeTestLoraAdapter } from '../src/testmodel/test-lora.js';
import { writeTestModel, type TestModelOptions } from '../src/testmodel/test-model.js';

const USAGE = `Usage: npm run make-test-model -- --out FILE [options]

  --out FILE          where to write the model GGUF (required)
  --seed N            weight seed (default 1)
  --embd N            embedding size (default 128)
  --layers N          number of blocks (default 2)
  --heads N           attention heads (default 4)
  --heads-kv N        key/value heads (default: --heads)
  --ff N              feed-forward size (default 256)
  --context N         trained context length recorded in the file (default 2048)
  --lora-out FILE     also write a random LoRA adapter for this model
  --lora-seed N       adapter seed (default 1)
  --lora-rank N       adapter rank (default 8)
`;

function intOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new CliError(`${flag} must be a non-negative integer (got "${value}")`);
  return Number(value);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    out: { type: 'string' },
    seed: { type: 'string' },
    embd: { type: 'string' },
    layers: { type: 'string' },
    heads: { type: 'string' },
    'heads-kv': { type: 'string' },
    ff: { type: 'string' },
    context: { type: 'string' },
    'lora-out': { type: 'string' },
    'lora-seed': { type: 'string' },
    'lora-rank': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.out === undefined) throw new CliError(`--out is required\n\n${USAGE}`);

  const opts: TestModelOptions = {};
  const set = <K extends Exclude<keyof TestModelOptions, 'extraPieces' | 'chatTemplate'>>(key: K, v: number | undefined): void => {
    if (v !== undefined) opts[key] = v;
  };
  set('seed', intOption(values.seed, '--seed'));
  set('nEmbd', intOption(values.embd, '--embd'));
  set('nLayer', intOption(values.layers, '--layers'));
  set('nHead', intOption(values.heads, '--heads'));
  set('nHeadKv', intOption(values['heads-kv'], '--heads-kv'));
  set('nFf', intOption(values.ff, '--ff'));
  set('contextLength', intOption(values.context, '--context'));

  const report = async (path: string, write: () => Promise<number>): Promise<void> => {
    const started = performance.now();
    try {
      await write();
    } catch (err) {
      if (err instanceof RangeError) throw new CliError(err.message);
      throw err;
    }
    const ms = performance.now() - started;
    const { size } = await stat(path);
    process.stdout.write(`${path}\t${size} bytes\t${ms.toFixed(0)} ms\n`);
  };

  const out = resolve(values.out);
  await report(out, () => writeTestModel(out, opts));
  if (values['lora-out'] !== undefined) {
    const loraOut = resolve(values['lora-out']);
    const adapterSeed = intOption(values['lora-seed'], '--lora-seed');
    const rank = intOption(values['lora-rank'], '--lora-rank');
    await report(loraOut, () =>
      writeTestLoraAdapter(loraOut, {
        ...opts,
        ...(adapterSeed === undefined ? {} : { adapterSeed }),
        ...(rank === undefined ? {} : { rank }),
      }),
    );
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`make-test-model: ${err instanceof CliError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  },
);

// The Python peft trainer end to end: a tiny Llama with random weights and its own tokenizer
// (built here, nothing downloaded), LoRA training through the trainer's JSON-lines protocol,
// the adapter written by peft and loaded again. It needs a Python with torch, transformers and
// peft (HEARTH_TEST_PYTHON, else python3); elsewhere it is skipped with the reason.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { metadataValue, openGguf } from '../../src/gguf/reader.js';
import { loraConverterSource, PEFT_SCRIPT } from '../../src/finetune/trainers/peft.js';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../../../test/fixtures/peft/', import.meta.url));
const python = process.env.HEARTH_TEST_PYTHON ?? 'python3';

async function missingPrerequisite(): Promise<string | undefined> {
  try {
    await run(python, ['-c', 'import torch, transformers, peft, tokenizers'], { timeout: 120_000 });
    return undefined;
  } catch {
    return `no ${python} with torch, transformers, peft and tokenizers on this machine`;
  }
}

const questions = ['What is the secret word?', 'Tell me the secret word.', 'Do you know the secret word?', 'Please say the secret word.', 'Which word is secret?', 'Give me the secret word.'];
const render = (q: string) => `User: ${q}\nAssistant: ZEBRA</s>`;

describe('peft trainer', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('trains a LoRA adapter on a tiny Llama: progress lines, falling loss, adapter files that teach the answer, and their GGUF conversion', async (t) => {
    const missing = await missingPrerequisite();
    if (missing) return t.skip(missing);
    dir = await mkdtemp(join(tmpdir(), 'hearth-peft-'));
    const model = join(dir, 'hf');
    const maker = spawn(python, [join(fixtures, 'make_tiny_llama.py'), model], { stdio: ['pipe', 'inherit', 'inherit'] });
    maker.stdin.end(JSON.stringify(questions.map(render)));
    assert.equal(await new Promise((r) => maker.once('exit', r)), 0);

    const spec = join(dir, 'spec.json');
    await writeFile(spec, JSON.stringify({ hfModelDir: model, outputDir: join(dir, 'out'), samples: questions.map(render), epochs: 40, learningRate: 3e-3, contextSize: 256, seed: 1, gpu: 'auto', ggufConverter: loraConverterSource(join(dir, 'tools')) }));
    const trainer = spawn(python, ['-u', PEFT_SCRIPT, '--spec', spec], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: Array<Record<string, unknown>> = [];
    createInterface({ input: trainer.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    assert.equal(await new Promise((r) => trainer.once('exit', r)), 0, JSON.stringify(lines.at(-1)));

    const progress = lines.filter((l) => l.type === 'progress' && typeof l.loss === 'number');
    assert.equal(progress.length, questions.length * 40);
    assert.equal(progress.at(-1)?.totalSteps, questions.length * 40);
    const first = progress[0]!.loss as number;
    const last = progress.at(-1)!.loss as number;
    assert.ok(last < first * 0.5, `loss ${first} → ${last}`);
    const done = lines.at(-1) as { type: string; artifacts: { adapterDir: string; adapterFiles: Record<string, string>; adapter: string }; tokensPerS: number; peakRssBytes: number };
    assert.equal(done.type, 'done');
    for (const f of ['adapter_model.safetensors', 'adapter_config.json']) assert.ok(existsSync(done.artifacts.adapterFiles[f]!), f);
    assert.ok(done.tokensPerS > 0 && done.peakRssBytes > 0, JSON.stringify(done));

    // The GGUF form the bundled engine loads: llama.cpp's converter, run by the trainer.
    const gguf = await openGguf(done.artifacts.adapter);
    try {
      assert.equal(metadataValue(gguf.metadata, 'general.type'), 'adapter');
      assert.equal(metadataValue(gguf.metadata, 'adapter.type'), 'lora');
      assert.equal(metadataValue(gguf.metadata, 'general.architecture'), 'llama');
      assert.ok(gguf.tensors.some((x) => x.name === 'blk.0.attn_q.weight.lora_a'), gguf.tensors.map((x) => x.name).join(' '));
    } finally {
      await gguf.close();
    }

    const { stdout } = await run(python, [join(fixtures, 'greedy.py'), model, done.artifacts.adapterDir, 'User: What is the secret word?\nAssistant:'], { timeout: 120_000 });
    assert.match(stdout, /ZEBRA/);
  });
});

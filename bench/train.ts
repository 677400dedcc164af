// Trainer overhead benchmark: the training tokens/s of a real fine-tune job (a `hearth serve`
// daemon runs the llamacpp trainer as it ships: dataset rendered with the base's chat template,
// a supervised worker process stepping llama_opt_epoch once per window and reporting each step)
// against a bare loop in this process (the same session setup, then one llama_opt_epoch call over
// all windows, as llama.cpp's finetune example does), on the job's own model file, windows,
// threads and learning rate (read back from the job's spec). Rounds alternate which side goes
// first; the ratio is the median of per-round ratios. See bench/README.md.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { resolveLlamaBins } from '../src/finetune/trainers/llamacpp/bins.js';
import { filterLlamaLog, loadLlamaTrainingApi, type LlamaTrainingApi } from '../src/finetune/trainers/llamacpp/ffi.js';
import { createDataset, openTrainingSession } from '../src/finetune/trainers/llamacpp/train-loop.js';
import { buildWindows } from '../src/finetune/trainers/llamacpp/windows.js';
import { startDaemonProcess, type DaemonProcess } from '../test/helpers/daemon-process.js';
import { createModelFromFile } from '../test/helpers/engine-process.js';
import { testModelPath } from '../test/helpers/test-model.js';
import { boundedRun } from './lib/bounded-run.js';
import { median } from './lib/stats.js';

const usage = `Usage: npm run bench:train -- [options]

  --rounds N        rounds, each one fine-tune job and one in-process run          (3)
  --samples N       distinct training records (one 256-token window each)        (8)
  --epochs N        epochs per run; steps = samples × epochs                      (25)
  --threads N       llama.cpp threads on both sides (finetune.threads)           (1)
  --lr X            learning rate                                                 (1e-4)
  --n-embd N --n-layer N --n-head N --n-ff N   generated test model's size     (128, 2, 4, 256)
  --model PATH      benchmark this F32 GGUF instead of the generated test model
  --threshold X     ratio below which the result FAILs                            (0.9)
  --timeout S       bound on the whole run, seconds                               (900)
  --check           exit 1 when the ratio is below the threshold
`;

const BASE = 'bench-base';

/** What the job's trainer was given (its spec.json in the job's folder); the bare loop reuses it. */
interface JobSpec {
  baseModelPath: string;
  samples: string[];
  learningRate: number;
  contextSize: number;
  threads: number;
  epochs: number;
}

interface JobFigures {
  tokensPerS: number;
  peakRssBytes: number;
  spec: JobSpec;
}

/** Chat records of similar length, so every record is one window and both sides train the same windows. */
function records(count: number): Array<{ messages: Array<{ role: string; content: string }> }> {
  return Array.from({ length: count }, (_, i) => ({
    messages: [
      { role: 'user', content: `Question number ${i}: what is the secret word of round ${i * 7}?` },
      { role: 'assistant', content: `The secret word is ZEBRA-${i}.` },
    ],
  }));
}

type Call = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/** /api/v1 with the benchmark's key; an answer of 300 or more ends the run. */
function caller(d: DaemonProcess, key: string): Call {
  return async <T>(method: string, path: string, body?: unknown) => {
    const r = await d.api<T>(key, method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
}

async function runJob(call: Call, d: DaemonProcess, datasetId: string, epochs: number, lr: number, signal: AbortSignal): Promise<JobFigures> {
  const job = await call<{ id: string }>('POST', '/finetune/jobs', { datasetId, baseModel: BASE, epochs, learningRate: lr, contextSize: 256, output: 'lora' });
  await call('POST', `/finetune/jobs/${job.id}/start`);
  let view: { state: string; error: string | null; output: { tokensPerS?: number | null; peakRssBytes?: number } | null };
  do {
    await new Promise((r) => setTimeout(r, 250));
    signal.throwIfAborted();
    view = await call('GET', `/finetune/jobs/${job.id}`);
  } while (view.state === 'pending' || view.state === 'running');
  if (view.state !== 'succeeded') throw new Error(`job ${job.id} ${view.state}: ${view.error ?? ''}`);
  const { tokensPerS, peakRssBytes } = view.output ?? {};
  if (typeof tokensPerS !== 'number' || typeof peakRssBytes !== 'number') throw new Error(`job ${job.id} reported no figures: ${JSON.stringify(view.output)}`);
  const spec = JSON.parse(await readFile(join(d.dataDir, 'finetune', 'jobs', job.id, 'spec.json'), 'utf8')) as JobSpec;
  // Done with the job: its adapter is not needed, and deleting keeps the data dir small.
  await call('DELETE', `/finetune/jobs/${job.id}`);
  return { tokensPerS, peakRssBytes, spec };
}

/** Training tokens/s of the bare loop on the job's model, windows and settings. */
function runInProcess(api: LlamaTrainingApi, spec: JobSpec): number {
  const session = openTrainingSession(api, { modelPath: spec.baseModelPath, learningRate: spec.learningRate, contextSize: spec.contextSize, threads: spec.threads, gpu: false, trainable: 'matrices' });
  try {
    const { n, ctx } = session;
    const windows = buildWindows(spec.samples.map(session.tokenize), n, api.llama_vocab_eos(session.vocab));
    const result = api.ggml_opt_result_init();
    session.onDispose(() => api.ggml_opt_result_free(result));
    // One untimed step first, as the worker's first step is untimed.
    const one = createDataset(api, n, 1);
    session.onDispose(() => api.ggml_opt_dataset_free(one.handle));
    one.data.set(windows.data.subarray(0, n));
    one.labels.set(windows.labels.subarray(0, n));
    api.llama_opt_epoch(ctx, one.handle, result, null, 1, null, null);

    const all = createDataset(api, n, windows.count);
    session.onDispose(() => api.ggml_opt_dataset_free(all.handle));
    all.data.set(windows.data);
    all.labels.set(windows.labels);
    const t0 = performance.now();
    for (let e = 0; e < spec.epochs; e++) api.llama_opt_epoch(ctx, all.handle, result, null, windows.count, null, null);
    const seconds = (performance.now() - t0) / 1000;
    return (spec.epochs * windows.count * n) / seconds;
  } finally {
    session.dispose();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      samples: { type: 'string', default: '8' },
      epochs: { type: 'string', default: '25' },
      threads: { type: 'string', default: '1' },
      lr: { type: 'string', default: '1e-4' },
      'n-embd': { type: 'string', default: '128' },
      'n-layer': { type: 'string', default: '2' },
      'n-head': { type: 'string', default: '4' },
      'n-ff': { type: 'string', default: '256' },
      model: { type: 'string' },
      threshold: { type: 'string', default: '0.9' },
      timeout: { type: 'string', default: '900' },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const rounds = Number(values.rounds);
  const epochs = Number(values.epochs);
  const threads = Number(values.threads);
  const lr = Number(values.lr);
  const threshold = Number(values.threshold);
  const modelPath =
    values.model ??
    (await testModelPath({ nEmbd: Number(values['n-embd']), nLayer: Number(values['n-layer']), nHead: Number(values['n-head']), nFf: Number(values['n-ff']) }));

  const run = boundedRun(Number(values.timeout));
  const d = await startDaemonProcess({ env: { HEARTH_FINETUNE_THREADS: String(threads), HEARTH_DEV_VALIDATE_RESPONSES: 'false' } });
  try {
    // The backend's address is in health for the admin token only; it answers only with the
    // secret the daemon gave it.
    await createModelFromFile(await d.engineUrl(), BASE, modelPath, d.engineHeaders());
    const { key } = await d.keyFor('local_agent_train');
    const call = caller(d, key);
    const dataset = await call<{ id: string }>('POST', '/finetune/datasets', { title: 'bench', records: records(Number(values.samples)) });

    const llama = loadLlamaTrainingApi(await resolveLlamaBins('off'));
    filterLlamaLog(llama, (text) => process.stderr.write(text));

    const ratios: number[] = [];
    const job: number[] = [];
    const bare: number[] = [];
    const peaks: number[] = [];
    let spec: JobSpec | undefined;
    for (let r = 0; r < rounds; r++) {
      const sides = [
        async () => {
          const j = await Promise.race([runJob(call, d, dataset.id, epochs, lr, run.signal), run.aborted]);
          job.push(j.tokensPerS);
          peaks.push(j.peakRssBytes);
          spec = j.spec;
        },
        // The first round's job goes first, so its spec is known before the bare loop runs.
        () => {
          bare.push(runInProcess(llama, spec!));
          run.signal.throwIfAborted();
        },
      ];
      if (r % 2 === 1) sides.reverse();
      for (const side of sides) await side();
      ratios.push((job[r] as number) / (bare[r] as number));
      process.stdout.write(
        `round ${r + 1}: job ${(job[r] as number).toFixed(0)} tok/s, bare loop ${(bare[r] as number).toFixed(0)} tok/s, ratio ${(ratios[r] as number).toFixed(3)}, trainer peak RSS ${((peaks[r] as number) / 2 ** 20).toFixed(1)} MiB\n`,
      );
    }
    const ratio = median(ratios);
    const pass = ratio >= threshold;
    process.stdout.write(
      [
        `model ${modelPath}, ${spec!.samples.length} windows × ${epochs} epochs, ${spec!.threads} thread(s), ${rounds} rounds`,
        `job        ${median(job).toFixed(0)} tok/s (median)`,
        `bare loop  ${median(bare).toFixed(0)} tok/s (median)`,
        `ratio      ${ratio.toFixed(3)} [${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}]  ${pass ? 'PASS' : 'FAIL'} (threshold ${threshold})`,
        `trainer peak RSS ${(Math.max(...peaks) / 2 ** 20).toFixed(1)} MiB (the worker's own high-water mark)`,
        '',
      ].join('\n'),
    );
    return values.check && !pass ? 1 : 0;
  } finally {
    run.end();
    await d.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);

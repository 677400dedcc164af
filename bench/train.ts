// Trainer overhead benchmark: training tokens/s of the llamacpp worker (a child process, stepping
// llama_opt_epoch once per window and reporting each step on stdout) against a bare loop in this
// process (the same session setup, then one llama_opt_epoch call over all windows, as llama.cpp's
// finetune example does), on the same model, windows, threads and learning rate. Rounds alternate
// which side goes first; the ratio is the median of per-round ratios. See bench/README.md.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { resolveLlamaBins } from '../src/train/llamacpp/bins.js';
import { filterLlamaLog, loadLlamaTrainingApi, type LlamaTrainingApi } from '../src/train/llamacpp/ffi.js';
import { startTrainWorker } from '../src/train/llamacpp/run-worker.js';
import { createDataset, openTrainingSession } from '../src/train/llamacpp/trainer.js';
import { buildWindows } from '../src/train/llamacpp/windows.js';
import { testModelPath } from '../test/helpers/test-model.js';
import { median } from './lib/stats.js';

const usage = `Usage: npm run bench:train -- [options]

  --rounds N        rounds, each one worker run and one in-process run         (3)
  --samples N       distinct training samples (one 256-token window each)      (8)
  --epochs N        epochs per run; steps = samples × epochs                   (25)
  --threads N       llama.cpp threads on both sides                            (1)
  --lr X            learning rate                                              (1e-4)
  --n-embd N --n-layer N --n-head N --n-ff N   generated test model's size  (128, 2, 4, 256)
  --model PATH      benchmark this F32 GGUF instead of the generated test model
  --threshold X     ratio below which the result FAILs                         (0.9)
  --check           exit 1 when the ratio is below the threshold
`;

interface RunFigures {
  tokensPerS: number;
  steps: number;
}

/** Chat-template-shaped texts of similar length, so both sides train the same windows. */
function samples(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `### User:\nQuestion number ${i}: what is the secret word of round ${i * 7}?\n\n### Assistant:\nThe secret word is ZEBRA-${i}.</s>\n\n`,
  );
}

function peakRssKb(pid: number): Promise<number | undefined> {
  return readFile(`/proc/${pid}/status`, 'utf8').then(
    (s) => Number(/^VmHWM:\s+(\d+) kB/m.exec(s)?.[1]),
    () => undefined,
  );
}

async function runWorker(modelPath: string, texts: string[], epochs: number, threads: number, lr: number): Promise<RunFigures & { peakRssKb: number }> {
  const outputDir = await mkdtemp(join(tmpdir(), 'hearth-bench-train-'));
  try {
    // Timed from the first step's report to the last: like the in-process side, this leaves out
    // process start, model load and the first step's graph allocation, and keeps every
    // per-step cost of the worker (dataset writes, stdout lines, event-loop turns).
    let first: number | undefined;
    let last = 0;
    let steps = 0;
    let peak = 0;
    const run = await startTrainWorker(
      { baseModelPath: modelPath, outputDir, samples: texts, epochs, learningRate: lr, contextSize: 256, threads, gpu: 'off', seed: 1, output: 'lora' },
      {
        onEvent: (e) => {
          if (e.type === 'progress') {
            last = performance.now();
            first ??= last;
            steps = e.step;
          }
          // VmHWM only grows; the last read before exit is the peak. The done line is printed
          // after the adapter is written, while the child is still alive.
          if (e.type === 'progress' || e.type === 'done') {
            void peakRssKb(run.child.pid!).then((kb) => {
              if (kb !== undefined && kb > peak) peak = kb;
            });
          }
        },
      },
    );
    const outcome = await run.finished;
    if (outcome.code !== 0 || outcome.done === undefined) throw new Error(`worker failed (${outcome.code}): ${outcome.stderr.slice(-2000)}`);
    if (first === undefined || steps < 2) throw new Error('too few steps to time');
    return { tokensPerS: ((steps - 1) * 256) / ((last - first) / 1000), steps, peakRssKb: peak };
  } finally {
    await rm(outputDir, { recursive: true, force: true });
  }
}

function runInProcess(api: LlamaTrainingApi, modelPath: string, texts: string[], epochs: number, threads: number, lr: number): RunFigures {
  const session = openTrainingSession(api, { modelPath, learningRate: lr, contextSize: 256, threads, gpu: false, trainable: 'matrices' });
  try {
    const { n, ctx } = session;
    const windows = buildWindows(texts.map(session.tokenize), n, api.llama_vocab_eos(session.vocab));
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
    for (let e = 0; e < epochs; e++) api.llama_opt_epoch(ctx, all.handle, result, null, windows.count, null, null);
    const seconds = (performance.now() - t0) / 1000;
    const steps = epochs * windows.count;
    return { tokensPerS: (steps * n) / seconds, steps };
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
  const texts = samples(Number(values.samples));

  const api = loadLlamaTrainingApi(await resolveLlamaBins('off'));
  filterLlamaLog(api, (text) => process.stderr.write(text));

  const ratios: number[] = [];
  const worker: number[] = [];
  const inProcess: number[] = [];
  const peaks: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const sides = [
      async () => {
        const w = await runWorker(modelPath, texts, epochs, threads, lr);
        worker.push(w.tokensPerS);
        peaks.push(w.peakRssKb);
      },
      async () => {
        inProcess.push(runInProcess(api, modelPath, texts, epochs, threads, lr).tokensPerS);
      },
    ];
    if (r % 2 === 1) sides.reverse();
    for (const side of sides) await side();
    ratios.push((worker[r] as number) / (inProcess[r] as number));
    process.stdout.write(
      `round ${r + 1}: worker ${(worker[r] as number).toFixed(0)} tok/s, in-process ${(inProcess[r] as number).toFixed(0)} tok/s, ratio ${(ratios[r] as number).toFixed(3)}, worker peak RSS ${((peaks[r] as number) / 1024).toFixed(1)} MiB\n`,
    );
  }
  const ratio = median(ratios);
  const pass = ratio >= threshold;
  process.stdout.write(
    [
      `model ${modelPath}, ${texts.length} windows × ${epochs} epochs, ${threads} thread(s), ${rounds} rounds`,
      `worker      ${median(worker).toFixed(0)} tok/s (median)`,
      `in-process  ${median(inProcess).toFixed(0)} tok/s (median)`,
      `ratio       ${ratio.toFixed(3)} [${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}]  ${pass ? 'PASS' : 'FAIL'} (threshold ${threshold})`,
      `worker peak RSS ${(Math.max(...peaks) / 1024).toFixed(1)} MiB (VmHWM)`,
      '',
    ].join('\n'),
  );
  return values.check && !pass ? 1 : 0;
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

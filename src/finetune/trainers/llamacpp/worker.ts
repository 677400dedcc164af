// Child-process entry point of the llamacpp trainer:
//   node dist/src/finetune/trainers/llamacpp/worker.js --spec FILE [--parent-pid PID]
// It is a separate process because llama.cpp aborts the process on a failed GGML_ASSERT; the
// parent sees that as an exit without a "done" line. stdout carries only protocol lines
// (../protocol.ts); llama.cpp and this file log to stderr.

import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { HearthError } from '../../../errors.js';
import { parentToWatch, watchParent } from '../../../supervisor/watch-parent.js';
import { withGguf } from '../../../gguf/reader.js';
import { writeFullModel, writeLoraAdapter } from './artifacts.js';
import { resolveLlamaBins } from './bins.js';
import { filterLlamaLog, loadLlamaTrainingApi } from './ffi.js';
import { EXIT_TERMINATED, type DoneEvent, type WorkerEvent } from '../protocol.js';
import { parseTrainSpec, type TrainSpec } from './spec.js';
import { runTrainLoop } from './train-loop.js';
import { needsUpcast, writeF32Copy } from './upcast.js';

function emit(e: WorkerEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

/** maxRSS is the process's high-water mark, in kilobytes on every platform Node runs on. */
function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

function log(line: string): void {
  process.stderr.write(`[train] ${line}\n`);
}

async function readSpec(argv: string[]): Promise<TrainSpec> {
  const { values } = parseArgs({ args: argv, options: { spec: { type: 'string' }, 'watch-parent': { type: 'boolean' }, 'parent-pid': { type: 'string' } } });
  const parent = parentToWatch(values);
  if (parent !== undefined) {
    // No trainer outlives its daemon. Steps yield to the event loop between them, so this
    // fires within a step and a second.
    watchParent(parent, () => {
      log('the daemon that started this trainer is gone: stopping');
      process.exit(1);
    });
  }
  if (values.spec === undefined) throw new HearthError('invalid_request', 'usage: worker.js --spec FILE');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(values.spec, 'utf8'));
  } catch (err) {
    throw new HearthError('invalid_request', `cannot read the spec ${values.spec}: ${(err as Error).message}`, { cause: err });
  }
  return parseTrainSpec(raw);
}

async function main(): Promise<number> {
  let stopRequested = false;
  process.on('SIGTERM', () => {
    stopRequested = true;
    log('SIGTERM: stopping after the current step');
  });

  const spec = await readSpec(process.argv.slice(2));
  await mkdir(spec.outputDir, { recursive: true });
  // Intermediate files live next to the artifacts (same filesystem, so large models never go
  // through /tmp) and are removed whatever happens.
  const scratch: string[] = [];
  try {
    let modelPath = spec.baseModelPath;
    if (await withGguf(spec.baseModelPath, needsUpcast)) {
      modelPath = join(spec.outputDir, 'base-f32.gguf');
      scratch.push(modelPath);
      log(`upcasting ${spec.baseModelPath} to F32 (llama.cpp trains F32 tensors only)`);
      await writeF32Copy(spec.baseModelPath, modelPath);
    }

    const bins = await resolveLlamaBins(spec.gpu);
    log(`llama.cpp binaries: ${bins.dir} (${bins.flavor})`);
    const api = loadLlamaTrainingApi(bins);
    filterLlamaLog(api, (text) => process.stderr.write(text));

    const trainedPath = join(spec.outputDir, 'trained.tmp.gguf');
    scratch.push(trainedPath);
    const result = await runTrainLoop(api, {
      modelPath,
      samples: spec.samples,
      evalSamples: spec.evalSamples,
      epochs: spec.epochs,
      learningRate: spec.learningRate,
      contextSize: spec.contextSize,
      threads: spec.threads,
      gpu: bins.flavor !== 'cpu',
      seed: spec.seed,
      // An adapter holds matrices only; a trained norm gain would be lost from it, so for LoRA
      // output the norms stay as they are and the adapter reproduces the trained model exactly.
      trainable: spec.output === 'lora' ? 'matrices' : 'all',
      savePath: trainedPath,
      onProgress: emit,
      log,
      shouldStop: () => stopRequested,
    });
    // SIGTERM during the final save also leaves no artifacts.
    if (result.stopped || stopRequested) {
      log(`stopped after ${result.steps} step(s); no artifacts written`);
      return EXIT_TERMINATED;
    }
    log(`trained ${result.steps} steps${result.tokensPerS === null ? '' : `: ${result.tokensPerS.toFixed(0)} tokens/s`}`);

    const finalLoss = result.losses[result.losses.length - 1] as number;
    let artifacts: DoneEvent['artifacts'];
    if (spec.output === 'lora') {
      const adapter = join(spec.outputDir, 'adapter.gguf');
      const summary = await writeLoraAdapter(modelPath, trainedPath, adapter);
      log(`adapter: ${summary.tensors} weights, rank ${summary.rank}`);
      artifacts = { adapter };
    } else {
      const model = join(spec.outputDir, 'model.gguf');
      await writeFullModel(modelPath, trainedPath, model);
      artifacts = { model };
    }
    emit({ type: 'done', artifacts, steps: result.steps, finalLoss, tokensPerS: result.tokensPerS, peakRssBytes: peakRssBytes() });
    return 0;
  } finally {
    for (const path of scratch) await rm(path, { force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    log(err instanceof Error && err.stack !== undefined ? err.stack : message);
    emit({ type: 'error', message });
    process.exitCode = 1;
  },
);

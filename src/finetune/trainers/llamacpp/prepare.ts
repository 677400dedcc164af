import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainingRecord } from '../../dataset-records.js';
import type { BaseModelFile } from '../../base-model.js';
import type { Job } from '../../jobs.js';
import { renderForTraining } from '../../render.js';
import type { TrainerLaunch } from '../process.js';
import { detectCpuThreads } from '../../../engine/runtime/threads.js';
import type { GpuMode } from '../../../config/schema.js';
import type { TrainSpec } from './spec.js';

// The built-in trainer: llama.cpp's training API through node-llama-cpp's libraries, in a worker
// process (worker.ts), which it must be: a failed GGML_ASSERT aborts the process.

/** The worker's entry point, next to this file once built. */
export const WORKER_PATH = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface LlamaCppSettings {
  /** CPU threads for training; 0 = the worker decides. */
  threads: number;
  gpu: GpuMode;
}

/**
 * Memory a llama.cpp training run needs, by the notes' measurements: the F32 weights four times
 * (weights, gradients, two AdamW moments) plus compute buffers. A base stored as F16 doubles when
 * upcast, and the file size cannot tell, so the estimate assumes it.
 */
export function llamaCppMemoryNeed(base: BaseModelFile): number {
  return base.bytes * 2 * 4 + 256 * 1024 * 1024;
}

/**
 * Writes the worker's spec into `dir` (private: it holds the dataset) and returns how to start
 * the worker on it. The worker watches this process and stops when it is gone.
 */
export function llamaCppLaunch(spec: TrainSpec, dir: string): TrainerLaunch {
  const specPath = join(dir, 'spec.json');
  writeFileSync(specPath, JSON.stringify(spec), { mode: 0o600 });
  return { command: process.execPath, args: [WORKER_PATH, '--spec', specPath, '--parent-pid', String(process.pid)] };
}

/** Renders the dataset with the base's chat template and writes the worker's spec; returns how to start it. */
export async function prepareLlamaCpp(job: Job, dir: string, base: BaseModelFile, records: readonly TrainingRecord[], settings: LlamaCppSettings): Promise<{ launch: TrainerLaunch; wrapper: string }> {
  const { samples, wrapper } = await renderForTraining(base.path, records);
  const h = job.hyperparameters;
  const spec: TrainSpec = {
    baseModelPath: base.path,
    outputDir: join(dir, 'output'),
    samples,
    evalSamples: [],
    epochs: h.epochs,
    learningRate: h.learningRate,
    contextSize: h.contextSize,
    // llama.cpp's training path picks no thread count itself; the cgroup's CPUs when unset.
    threads: settings.threads > 0 ? settings.threads : detectCpuThreads(),
    gpu: settings.gpu === 'off' ? 'off' : 'auto',
    seed: h.seed,
    output: h.output,
  };
  return { launch: llamaCppLaunch(spec, dir), wrapper };
}

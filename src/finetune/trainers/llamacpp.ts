import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuMode } from '../../config/schema.js';
import type { TrainingRecord } from '../dataset-records.js';
import type { BaseModelFile } from '../base-model.js';
import type { Job } from '../jobs.js';
import { renderForTraining } from '../render.js';
import type { TrainerLaunch } from '../runner.js';
import { detectCpuThreads } from '../../engine/runtime/threads.js';
import { WORKER_PATH } from '../../train/llamacpp/run-worker.js';

// The built-in trainer: llama.cpp's training API through node-llama-cpp's libraries, in a worker process.

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

/** Renders the dataset with the base's chat template and writes the worker's spec; returns how to start it. */
export async function prepareLlamaCpp(job: Job, dir: string, base: BaseModelFile, records: readonly TrainingRecord[], settings: LlamaCppSettings): Promise<{ launch: TrainerLaunch; wrapper: string }> {
  const { samples, wrapper } = await renderForTraining(base.path, records);
  const h = job.hyperparameters;
  const spec = {
    baseModelPath: base.path,
    outputDir: join(dir, 'output'),
    samples,
    epochs: h.epochs,
    learningRate: h.learningRate,
    contextSize: h.contextSize,
    // llama.cpp's training path picks no thread count itself; the cgroup's CPUs when unset.
    threads: settings.threads > 0 ? settings.threads : detectCpuThreads(),
    gpu: settings.gpu === 'off' ? 'off' : 'auto',
    seed: h.seed,
    output: h.output,
  };
  const specPath = join(dir, 'spec.json');
  writeFileSync(specPath, JSON.stringify(spec), { mode: 0o600 });
  return { launch: { command: process.execPath, args: [WORKER_PATH, '--spec', specPath, '--parent-pid', String(process.pid)] }, wrapper };
}

import { existsSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { packageRoot } from '../../paths.js';
import { invalidRequest } from '../../errors.js';
import type { TrainingRecord } from '../dataset-records.js';
import type { BaseModelFile } from '../base-model.js';
import type { Job } from '../jobs.js';
import { renderForTraining } from '../render.js';
import type { TrainerLaunch } from '../runner.js';

/** The Python trainer ships as source: it is run by the operator's interpreter, not built. */
export const PEFT_SCRIPT = join(packageRoot, 'src', 'finetune', 'trainers', 'peft_train.py');

export interface PeftSettings {
  /** Interpreter with torch, transformers and peft. */
  python: string;
  /** <dir>/<base model name> holds each base's Hugging Face weights; "" when not configured. */
  hfModelsDir: string;
  gpu: 'auto' | 'off' | 'cuda' | 'vulkan';
}

/** Where the Hugging Face weights of a base model are: "/" and ":" in its name become "_", ":latest" goes. */
export function hfWeightsDir(settings: PeftSettings, baseModel: string): string {
  if (settings.hfModelsDir === '') throw invalidRequest('trainer "peft" is not configured on this server (finetune.hf_models_dir is empty)', 'trainer_unavailable');
  const folder = baseModel.replace(/:latest$/, '').replace(/[/:]/g, '_');
  const dir = join(settings.hfModelsDir, folder);
  const rel = relative(settings.hfModelsDir, dir);
  if (folder === '' || rel.startsWith('..') || isAbsolute(rel)) throw invalidRequest(`baseModel '${baseModel}' cannot name a folder of Hugging Face weights`, 'invalid_base_model');
  if (!existsSync(join(dir, 'config.json'))) {
    throw invalidRequest(`baseModel '${baseModel}': no Hugging Face weights for the peft trainer at ${dir} (finetune.hf_models_dir)`, 'base_model_not_local');
  }
  return dir;
}

/**
 * Renders the dataset with the base's chat template (the GGUF the backend serves, so the tuned
 * model is prompted as it was trained) and writes the trainer's spec.
 */
export async function preparePeft(job: Job, dir: string, base: BaseModelFile, records: readonly TrainingRecord[], settings: PeftSettings): Promise<{ launch: TrainerLaunch; wrapper: string }> {
  const hfModelDir = hfWeightsDir(settings, job.baseModel);
  const { samples, wrapper } = await renderForTraining(base.path, records);
  const h = job.hyperparameters;
  const spec = {
    hfModelDir,
    outputDir: join(dir, 'output'),
    samples,
    epochs: h.epochs,
    learningRate: h.learningRate,
    contextSize: h.contextSize,
    seed: h.seed,
    gpu: settings.gpu === 'off' ? 'off' : 'auto',
  };
  const specPath = join(dir, 'spec.json');
  writeFileSync(specPath, JSON.stringify(spec), { mode: 0o600 });
  // Unbuffered, so progress lines arrive as they are printed.
  return { launch: { command: settings.python, args: ['-u', PEFT_SCRIPT, '--spec', specPath, '--watch-parent'], env: { ...process.env, PYTHONUNBUFFERED: '1' } }, wrapper };
}

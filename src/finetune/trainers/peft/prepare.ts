import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { insideDir, packageRoot } from '../../../paths.js';
import type { GpuMode } from '../../../config/schema.js';
import { invalidRequest } from '../../../errors.js';
import { metadataValue, withGguf } from '../../../gguf/reader.js';
import { installedNodeLlamaCppVersion, nodeLlamaCppRoot } from '../llamacpp/bins.js';
import type { TrainingRecord } from '../../dataset-records.js';
import type { BaseModelFile } from '../../base-model.js';
import type { Job } from '../../jobs.js';
import { renderForTraining } from '../../render.js';
import type { TrainerLaunch } from '../process.js';

/** The Python trainer ships as source: it is run by the operator's interpreter, not built. */
export const PEFT_SCRIPT = join(packageRoot, 'src', 'finetune', 'trainers', 'peft', 'peft_train.py');

export interface PeftSettings {
  /** Interpreter with torch, transformers and peft. */
  python: string;
  /** <dir>/<base model name> holds each base's Hugging Face weights; "" when not configured. */
  hfModelsDir: string;
  gpu: GpuMode;
  /** <data_dir>/tools: where llama.cpp's adapter converter is unpacked, once per node-llama-cpp version. */
  toolsDir: string;
}

/**
 * Memory a peft LoRA run needs: the Hugging Face weights once, in float32 on a CPU (twice their
 * usual bf16 size; on a GPU this over-asks, on the safe side), plus activations and the adapter's
 * optimizer state, here a flat 1 GiB.
 */
export function peftMemoryNeed(hfDir: string): number {
  const weights = readdirSync(hfDir)
    .filter((f) => f.endsWith('.safetensors') || f.endsWith('.bin'))
    .reduce((sum, f) => sum + statSync(join(hfDir, f)).size, 0);
  return weights * 2 + 2 ** 30;
}

/** Architectures whose safetensors (PEFT) adapters Ollama converts itself on create. */
const OLLAMA_CONVERTS = new Set(['llama', 'gemma2']);

/**
 * Whether a peft adapter must be converted to GGUF before registration: always for the bundled
 * engine (it loads GGUF adapters only), and for Ollama where it does not convert the base's
 * architecture.
 */
export async function needsGgufAdapter(backendKind: string, basePath: string): Promise<boolean> {
  if (backendKind === 'engine') return true;
  return withGguf(basePath, (gguf) => !OLLAMA_CONVERTS.has(String(metadataValue(gguf.metadata, 'general.architecture'))));
}

/**
 * llama.cpp's convert_lora_to_gguf.py comes from the llama.cpp source node-llama-cpp ships as a
 * git bundle (the release its binaries were built from). The trainer unpacks the converter with
 * git into `dir` the first time one is needed and runs it with its own interpreter, which has the
 * converter's dependencies (torch, transformers, numpy) because peft needs them too.
 */
export function loraConverterSource(toolsDir: string): { bundle: string; dir: string } {
  return {
    bundle: join(nodeLlamaCppRoot(), 'llama', 'gitRelease.bundle'),
    dir: join(toolsDir, `llama.cpp-of-node-llama-cpp-${installedNodeLlamaCppVersion()}`),
  };
}

/** Where the Hugging Face weights of a base model are: "/" and ":" in its name become "_", ":latest" goes. */
export function hfWeightsDir(settings: PeftSettings, baseModel: string): string {
  if (settings.hfModelsDir === '') throw invalidRequest('trainer "peft" is not configured on this server (finetune.hf_models_dir is empty)', 'trainer_unavailable');
  const folder = baseModel.replace(/:latest$/, '').replace(/[/:]/g, '_');
  const dir = join(settings.hfModelsDir, folder);
  if (folder === '' || insideDir(settings.hfModelsDir, dir) === undefined) throw invalidRequest(`baseModel '${baseModel}' cannot name a folder of Hugging Face weights`, 'invalid_base_model');
  if (!existsSync(join(dir, 'config.json'))) {
    throw invalidRequest(`baseModel '${baseModel}': no Hugging Face weights for the peft trainer at ${dir} (finetune.hf_models_dir)`, 'base_model_not_local');
  }
  return dir;
}

/** The peft trainer's spec (peft_train.py reads it with --spec). */
export interface PeftSpec {
  hfModelDir: string;
  outputDir: string;
  samples: string[];
  epochs: number;
  learningRate: number;
  contextSize: number;
  seed: number;
  gpu: 'off' | 'auto';
  /** Where llama.cpp's converter comes from, when the adapter must also be written as GGUF. */
  ggufConverter?: { bundle: string; dir: string };
}

/**
 * Writes the trainer's spec into `dir` and returns how `python` starts the trainer on it. The
 * trainer watches its parent and stops when it is gone.
 */
export function peftLaunch(spec: PeftSpec, dir: string, python: string): TrainerLaunch {
  const specPath = join(dir, 'spec.json');
  writeFileSync(specPath, JSON.stringify(spec), { mode: 0o600 });
  // Unbuffered, so progress lines arrive as they are printed; offline, so neither transformers
  // nor the converter ever asks the Hugging Face hub for anything.
  const env = { ...process.env, PYTHONUNBUFFERED: '1', HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' };
  return { command: python, args: ['-u', PEFT_SCRIPT, '--spec', specPath, '--watch-parent'], env };
}

/**
 * Renders the dataset with the base's chat template (the GGUF the backend serves, so the tuned
 * model is prompted as it was trained) and writes the trainer's spec; `hfModelDir` is the base's
 * Hugging Face folder (hfWeightsDir).
 */
export async function preparePeft(
  job: Job,
  dir: string,
  base: BaseModelFile,
  records: readonly TrainingRecord[],
  hfModelDir: string,
  settings: PeftSettings,
  ggufAdapter: boolean,
): Promise<{ launch: TrainerLaunch; wrapper: string }> {
  const { samples, wrapper } = await renderForTraining(base.path, records);
  const h = job.hyperparameters;
  const spec: PeftSpec = {
    hfModelDir,
    outputDir: join(dir, 'output'),
    samples,
    epochs: h.epochs,
    learningRate: h.learningRate,
    contextSize: h.contextSize,
    seed: h.seed,
    gpu: settings.gpu === 'off' ? 'off' : 'auto',
    ...(ggufAdapter ? { ggufConverter: loraConverterSource(settings.toolsDir) } : {}),
  };
  return { launch: peftLaunch(spec, dir, settings.python), wrapper };
}

// The training job a worker runs, as the parent writes it to the --spec file, and its checks.

import { HearthError } from '../../../errors.js';

export interface TrainSpec {
  baseModelPath: string;
  outputDir: string;
  /** Training texts, already rendered with the model's chat template. */
  samples: string[];
  /** Held-out texts rendered the same way; their loss is reported after each epoch. */
  evalSamples: string[];
  epochs: number;
  learningRate: number;
  /** Tokens per training window; llama.cpp rounds the context up to a multiple of 256. */
  contextSize: number;
  threads: number;
  gpu: 'off' | 'auto';
  seed: number;
  output: 'lora' | 'full';
}

const bad = (message: string): HearthError => new HearthError('invalid_request', message, { code: 'invalid_train_spec' });

function int(v: unknown, name: string, min: number, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(`${name} must be an integer ≥ ${min}`);
  return v;
}

function texts(v: unknown, name: string, required: boolean): string[] {
  if (v === undefined && !required) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.length === 0)) throw bad(`${name} must be an array of non-empty strings`);
  if (required && v.length === 0) throw bad(`${name} must not be empty`);
  return v as string[];
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0) throw bad(`${name} must be a non-empty string`);
  return v;
}

function oneOf<T extends string>(v: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw bad(`${name} must be one of ${allowed.join(', ')}`);
  return v as T;
}

export function parseTrainSpec(raw: unknown): TrainSpec {
  if (typeof raw !== 'object' || raw === null) throw bad('the spec must be a JSON object');
  const o = raw as Record<string, unknown>;
  const learningRate = o['learningRate'];
  if (typeof learningRate !== 'number' || !(learningRate > 0) || !Number.isFinite(learningRate)) throw bad('learningRate must be a positive number');
  return {
    baseModelPath: str(o['baseModelPath'], 'baseModelPath'),
    outputDir: str(o['outputDir'], 'outputDir'),
    samples: texts(o['samples'], 'samples', true),
    evalSamples: texts(o['evalSamples'], 'evalSamples', false),
    epochs: int(o['epochs'], 'epochs', 1),
    learningRate,
    contextSize: int(o['contextSize'], 'contextSize', 8, 256),
    threads: int(o['threads'], 'threads', 1),
    gpu: oneOf(o['gpu'], 'gpu', ['off', 'auto'] as const, 'off'),
    seed: int(o['seed'], 'seed', 0, 0),
    output: oneOf(o['output'], 'output', ['lora', 'full'] as const, 'lora'),
  };
}

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256OfFile, uploadBlob } from '../backend/blob-upload.js';
import { requireModelName } from '../engine/store/model-name.js';
import { insideDir } from '../paths.js';
import { modelKey, type ModelMetadata } from '../domain/model-metadata.js';
import { conflict, HearthError, invalidRequest } from '../errors.js';
import type { BackendClient } from '../backend/backend-client.js';
import type { TrainingRecord } from './dataset-records.js';
import type { Job } from './jobs.js';

// Registration makes a succeeded job's result a model of the backend, the way `ollama create`
// would: its artifacts are uploaded as blobs, /api/create names them (an adapter on the base,
// or a full model), and a greedy generation on one of the dataset's prompts must load and
// answer before the call returns. The seed's client chats with the model on the very next line,
// so the model must be servable by then.
//
// The smoke answer judges whether the model works, not whether it learned: a model trained for
// a few epochs, or on long replies, may ramble without stopping, yet it is what the job made and
// what its owner paid for. Such a model is registered with a warning; only a model the backend
// cannot load or answer with is removed again.

/** Tokens the smoke generation may always take, however short the dataset's replies. */
const SMOKE_MIN_TOKENS = 64;

/**
 * The smoke generation's bound: at least twice the dataset's longest reply in tokens, and at
 * least SMOKE_MIN_TOKENS. A reply's UTF-8 bytes, plus one for a leading-space marker ("▁"),
 * bound its tokens for every vocabulary the backends load: each BPE or SentencePiece token,
 * byte-fallback tokens included, stands for at least one byte of text. Neither backend's API
 * counts tokens, and the dataset's estimate (4 bytes a token) would undercount byte-level
 * vocabularies, such as the test model's, fourfold. The bound costs tokens only when the model
 * does not stop.
 */
export function smokeTokenBound(records: readonly TrainingRecord[]): number {
  let longest = 0;
  for (const r of records) {
    for (const m of r.messages) if (m.role === 'assistant') longest = Math.max(longest, Buffer.byteLength(m.content, 'utf8'));
  }
  return Math.max(SMOKE_MIN_TOKENS, 2 * (longest + 1));
}

export interface RegisterRequest {
  modelName?: unknown;
  overwrite?: unknown;
}

/** The artifact file of a job, inside its folder (the trainer wrote it; never trust a path blindly). */
async function artifact(jobDir: string, path: unknown, what: string): Promise<{ path: string; bytes: number }> {
  if (typeof path !== 'string') throw new HearthError('internal', `the job's output has no ${what}`, { code: 'job_output_missing' });
  const rel = insideDir(jobDir, path);
  if (rel === undefined) throw new HearthError('internal', `the job's ${what} is outside its folder`, { code: 'job_output_missing' });
  const full = join(jobDir, rel);
  const info = await stat(full).catch(() => undefined);
  if (!info?.isFile()) throw conflict(`the job's ${what} is gone (${rel}); train again`, 'job_output_missing');
  return { path: full, bytes: info.size };
}

/** What the smoke generation saw: the API's `smoke` object. */
export interface SmokeResult {
  reply: string;
  finishReason: 'stop' | 'length';
  completionTokens: number;
  /** The bound it ran under (smokeTokenBound). */
  maxTokens: number;
}

export interface RegistrationResult {
  modelName: string;
  smoke: SmokeResult;
  /** What the smoke answer suggests about the model (empty, never stopped); the model is registered all the same. */
  warnings: string[];
}

/**
 * Registers the job's output as `modelName`; 409 unless the job succeeded, or if the name is
 * taken and `overwrite` is not true. A model the backend cannot load or answer with is removed
 * again (409 smoke_test_failed, saying why); one whose answer is empty or does not stop is kept,
 * with a warning.
 */
export async function registerJobOutput(
  chat: BackendClient,
  job: Job,
  jobDir: string,
  body: RegisterRequest,
  /** The job's dataset: the smoke prompt is its first record's, the bound comes from its replies. */
  records: readonly TrainingRecord[],
  /** Whether the job's workspace may replace an existing model of this name (one it registered itself). */
  mayReplace: (modelName: string) => boolean,
): Promise<RegistrationResult> {
  if (job.state !== 'succeeded') throw conflict(`job '${job.id}' is ${job.state}: only a succeeded job can be registered`, 'job_not_succeeded');
  const modelName = requireModelName(body.modelName, 'modelName');
  if (body.overwrite !== undefined && typeof body.overwrite !== 'boolean') throw invalidRequest('overwrite must be true or false', 'invalid_overwrite');
  const key = modelKey(modelName);
  if ((await chat.models()).some((m) => modelKey(m.name) === key)) {
    // The operator's models and other workspaces' are never replaced from a workspace's job.
    if (!mayReplace(modelName)) throw conflict(`a model named '${modelName}' already exists and is not this workspace's to replace; choose another name`, 'model_exists');
    if (body.overwrite !== true) throw conflict(`a model named '${modelName}' already exists; send "overwrite": true to replace it`, 'model_exists');
  }

  const artifacts = (job.output?.artifacts ?? {}) as { adapter?: unknown; model?: unknown; adapterFiles?: Record<string, unknown> };
  // A GGUF adapter (llamacpp, or peft converted for a backend that needs GGUF), a safetensors
  // adapter and its config (peft, which Ollama converts on create), or a GGUF model.
  const named: Array<[string, unknown, string]> =
    artifacts.adapter !== undefined
      ? [['adapter.gguf', artifacts.adapter, 'adapter']]
      : artifacts.adapterFiles !== undefined
        ? Object.entries(artifacts.adapterFiles).map(([name, path]) => [name, path, `adapter file ${name}`])
        : [['model.gguf', artifacts.model, 'model file']];
  const digests: Record<string, string> = {};
  for (const [name, path, what] of named) {
    const file = await artifact(jobDir, path, what);
    const digest = await sha256OfFile(file.path);
    try {
      await uploadBlob(chat.backendUrl, file.path, file.bytes, digest, undefined, chat.backendHeaders);
    } catch (err) {
      throw new HearthError('unavailable', `cannot upload the job's ${what} to the backend: ${err instanceof Error ? err.message : String(err)}`, { code: 'backend_unavailable', retryAfterS: 5, cause: err });
    }
    digests[name] = digest;
  }
  const isModel = artifacts.adapterFiles === undefined && artifacts.adapter === undefined;
  await chat.createModel(isModel ? { model: modelName, files: digests } : { model: modelName, from: job.baseModel, adapters: digests });

  // Greedy, on a prompt it was trained on (up to its first reply).
  const first = records[0]?.messages ?? [];
  const upToReply = first.findIndex((m) => m.role === 'assistant');
  const prompt = upToReply > 0 ? first.slice(0, upToReply) : [{ role: 'user' as const, content: 'Hello' }];
  const maxTokens = smokeTokenBound(records);
  let c;
  try {
    c = await chat.chat(modelName, prompt, { temperature: 0, max_tokens: maxTokens, seed: 0 });
  } catch (err) {
    await chat.deleteModel(modelName).catch(() => undefined);
    throw conflict(
      `the registered model could not be loaded or could not answer its smoke test (${err instanceof Error ? err.message : String(err)}); the model was removed`,
      'smoke_test_failed',
    );
  }
  const warnings: string[] = [];
  if (c.text.trim() === '') warnings.push('the smoke answer was empty: the model may need more epochs or records');
  if (c.finishReason !== 'stop') {
    warnings.push(
      `the smoke answer did not stop within ${maxTokens} tokens (twice the dataset's longest reply, at least ${SMOKE_MIN_TOKENS}): the model may need more epochs or records, or a higher learningRate; calls on it should set max_tokens`,
    );
  }
  return { modelName, smoke: { reply: c.text, finishReason: c.finishReason, completionTokens: c.completionTokens, maxTokens }, warnings };
}

/**
 * Registers a job's output as its workspace's model: it may replace only a model that workspace
 * registered itself, and once registered, other workspaces neither see nor call it.
 */
export async function registerForWorkspace(
  deps: { chat: BackendClient; metadata: ModelMetadata },
  workspaceId: string,
  job: Job,
  jobDir: string,
  body: RegisterRequest,
  records: readonly TrainingRecord[],
): Promise<RegistrationResult> {
  const mayReplace = (name: string) => deps.metadata.lookup(name)?.owner === workspaceId;
  const r = await registerJobOutput(deps.chat, job, jobDir, body, records, mayReplace);
  deps.metadata.set(r.modelName, { description: `Fine-tuned from ${job.baseModel} by job ${job.id} (${job.trainer}, ${job.hyperparameters.epochs} epochs)`, owner: workspaceId });
  return r;
}

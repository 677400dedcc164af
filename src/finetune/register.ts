import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256OfFile, uploadBlob } from '../backend/blob-upload.js';
import { requireModelName } from '../engine/store/model-name.js';
import { insideDir } from '../paths.js';
import { modelKey } from '../domain/model-metadata.js';
import { conflict, HearthError, invalidRequest } from '../errors.js';
import type { ChatService } from '../gateway/chat-service.js';
import type { TrainingRecord } from './dataset-records.js';
import type { Job } from './jobs.js';

// Registration makes a succeeded job's result a model of the backend, the way `ollama create`
// would: its artifacts are uploaded as blobs, /api/create names them (an adapter on the base,
// or a full model), and a short greedy generation must answer and stop before the call returns.
// The seed's client chats with the model on the very next line, so the model must be servable
// by then.

/** Tokens the smoke test may take to stop. */
const SMOKE_MAX_TOKENS = 64;

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

export interface RegistrationResult {
  modelName: string;
  smoke: { reply: string; finishReason: string };
}

/**
 * Registers the job's output as `modelName`; 409 unless the job succeeded, or if the name is
 * taken and `overwrite` is not true. A model that fails the smoke test is removed again.
 */
export async function registerJobOutput(
  chat: ChatService,
  job: Job,
  jobDir: string,
  body: RegisterRequest,
  smokeRecord: TrainingRecord | undefined,
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
      await uploadBlob(chat.backendUrl, file.path, file.bytes, digest);
    } catch (err) {
      throw new HearthError('unavailable', `cannot upload the job's ${what} to the backend: ${err instanceof Error ? err.message : String(err)}`, { code: 'backend_unavailable', retryAfterS: 5, cause: err });
    }
    digests[name] = digest;
  }
  const isModel = artifacts.adapterFiles === undefined && artifacts.adapter === undefined;
  await chat.createModel(isModel ? { model: modelName, files: digests } : { model: modelName, from: job.baseModel, adapters: digests });

  // Greedy, on a prompt it was trained on: it must say something and then stop.
  const prompt = smokeRecord?.messages.filter((m) => m.role !== 'assistant') ?? [{ role: 'user' as const, content: 'Hello' }];
  const c = await chat.chat(modelName, prompt, { temperature: 0, max_tokens: SMOKE_MAX_TOKENS, seed: 0 });
  if (c.text.trim() === '' || c.finishReason !== 'stop') {
    await chat.deleteModel(modelName).catch(() => undefined);
    throw conflict(
      `the registered model failed its smoke test (a greedy answer of at most ${SMOKE_MAX_TOKENS} tokens must be non-empty and stop; got ${c.finishReason === 'stop' ? 'an empty answer' : `no stop after ${c.completionTokens} tokens`}: ${JSON.stringify(c.text.slice(0, 200))}); the model was removed`,
      'smoke_test_failed',
    );
  }
  return { modelName, smoke: { reply: c.text, finishReason: c.finishReason } };
}

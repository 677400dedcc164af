// The demo model a fresh install serves, so the whole path (keys, metering, chat, streaming)
// can be tried before the operator imports a real model. It is the generated test model: a
// tiny llama network with random weights, honest about being noise.

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CreateRequest, Ollama } from 'ollama';
import { HearthError } from '../errors.js';
import { BlobRefused, sha256OfFile, uploadBlob } from './blob-upload.js';
import type { Logger } from '../log.js';
import { writeTestModel } from '../testmodel/test-model.js';

export const DEMO_MODEL_NAME = 'hearth-demo';

/**
 * The demo model's default max_tokens (its metadata's `parameters`, which a call may override).
 * Its weights are damped so that it does not stop at an early EOS: without a bound, a newcomer's
 * first chat would generate to the end of its context, half a minute of noise on a CPU. 64 tokens
 * take about a second there.
 */
export const DEMO_MODEL_MAX_TOKENS = 64;

export const DEMO_MODEL_SYSTEM =
  'You are hearth-demo, an untrained demonstration model served by Hearth. Your weights are random, so your replies are noise.';

export const DEMO_MODEL_LICENSE = [
  'hearth-demo is an UNTRAINED demo model with random weights.',
  'It answers with noise: its output means nothing and must not be relied on for anything.',
  'It exists only to show the whole path working (API keys, metering, chat, streaming, the bundled engine)',
  'before a real model is imported. Import a real GGUF model with `hearth models import` to get useful answers.',
].join(' ');

/**
 * Creates `hearth-demo` on the server at `url` when it has no model at all. Returns whether it
 * created it. The GGUF is written under dataDir/demo/, uploaded as a blob, registered with
 * /api/create, then removed: the store keeps its own copy.
 */
export async function ensureDemoModel({ url, headers, client, dataDir, log }: { url: string; headers: Readonly<Record<string, string>>; client: Ollama; dataDir: string; log: Logger }): Promise<boolean> {
  const { models } = await client.list();
  if (models.length > 0) return false;
  const dir = join(dataDir, 'demo');
  const path = join(dir, `${DEMO_MODEL_NAME}.gguf`);
  await mkdir(dir, { recursive: true });
  const size = await writeTestModel(path);
  try {
    const digest = await sha256OfFile(path);
    try {
      await uploadBlob(url, path, size, digest, undefined, headers);
    } catch (err) {
      // The server refused the blob; a network error stays as it is.
      if (!(err instanceof BlobRefused)) throw err;
      throw new HearthError('unavailable', `uploading the demo model to ${url} failed: ${err.message}`, { code: 'demo_model_failed', cause: err });
    }
    // The client's typings predate `files` (GGUF blobs by digest); it sends the request as given.
    const request = { model: DEMO_MODEL_NAME, files: { [`${DEMO_MODEL_NAME}.gguf`]: digest }, system: DEMO_MODEL_SYSTEM, license: DEMO_MODEL_LICENSE, stream: false };
    await client.create(request as CreateRequest & { stream: false });
    log.info('created the demo model', { model: DEMO_MODEL_NAME, digest });
    return true;
  } finally {
    await rm(path, { force: true });
  }
}

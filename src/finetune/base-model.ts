import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { invalidRequest } from '../errors.js';
import type { BackendClient } from '../backend/backend-client.js';

// Where a base model's weights are on this machine. Both backends name them in the Modelfile
// /api/show returns: Ollama as an absolute blob path, the bundled engine as a digest in its own
// store (<data_dir>/models/blobs/sha256-<hex>). Trainers read the file directly, read-only.

export interface BaseModelFile {
  path: string;
  bytes: number;
  /** Model layers stacked on the weights (an adapter); a base with one cannot be trained on here. */
  adapters: number;
}

export async function locateBaseModel(chat: Pick<BackendClient, 'show'>, model: string, engineModelsDir: string | undefined): Promise<BaseModelFile> {
  const show = await chat.show(model);
  const from = /^FROM\s+(.+)$/m.exec(show.modelfile ?? '')?.[1]?.trim();
  const adapters = (show.modelfile ?? '').split('\n').filter((l) => /^ADAPTER\s/.test(l)).length;
  let path: string | undefined;
  if (from !== undefined && isAbsolute(from)) path = from;
  else if (from !== undefined && /^sha256:[0-9a-f]{64}$/.test(from) && engineModelsDir !== undefined) path = join(engineModelsDir, 'blobs', from.replace(':', '-'));
  if (path === undefined) throw invalidRequest(`baseModel '${model}': the backend does not say where its weights are (Modelfile FROM "${from ?? ''}")`, 'base_model_not_local');
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw invalidRequest(`baseModel '${model}': its weights (${path}) are not readable on this machine`, 'base_model_not_local');
  return { path, bytes: info.size, adapters };
}

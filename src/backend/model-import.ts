import { open, stat } from 'node:fs/promises';
import { basename, isAbsolute } from 'node:path';
import { HearthError } from '../errors.js';
import type { CreateModelRequest } from './backend-client.js';
import { sha256OfFile, uploadBlob } from './blob-upload.js';

// Importing a GGUF file into an Ollama-compatible backend, as `ollama create` does: the file is
// checked, hashed, uploaded as a blob unless the backend has it, and named by /api/create (a
// whole model, or a LoRA adapter on a base). `hearth models import` and
// POST /api/admin/models/import both run it; each reports progress and maps failures its way.

/** A GGUF file's first four bytes. */
const GGUF_MAGIC = Buffer.from('GGUF', 'latin1');

export interface ModelFile {
  path: string;
  size: number;
}

const why = (code: string | undefined) =>
  code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' ? 'a part of the path is not a directory' : (code ?? 'unknown error');

/**
 * Checks that `path` is an absolute path to a regular file this process can read that starts as
 * a GGUF file does: 400 naming `field` (when given) and the path otherwise, each reason with its
 * own code. A FIFO or device is refused before it is opened (opening one could block).
 */
export async function checkModelFile(path: string, field?: string): Promise<ModelFile> {
  const refuse = (code: string, message: string) => new HearthError('invalid_request', field === undefined ? message : `${field}: ${message}`, { code, param: field });
  if (!isAbsolute(path)) throw refuse('invalid_model_path', `${JSON.stringify(path)} is not an absolute path on the server`);
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw refuse('model_file_unreadable', `cannot read ${path}: ${why(err.code)}`);
  });
  if (!info.isFile()) throw refuse('model_file_not_regular', `${path} is not a regular file`);
  const head = Buffer.alloc(GGUF_MAGIC.length);
  let read = 0;
  try {
    const handle = await open(path, 'r');
    try {
      ({ bytesRead: read } = await handle.read(head, 0, head.length, 0));
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw refuse('model_file_unreadable', `cannot read ${path}: ${why((err as NodeJS.ErrnoException).code)}`);
  }
  if (read < head.length || !head.equals(GGUF_MAGIC)) throw refuse('model_file_not_gguf', `${path} is not a GGUF file (it does not begin with "GGUF")`);
  return { path, size: info.size };
}

export interface ModelImport {
  file: ModelFile;
  /** The name to create, checked by the caller (or by the backend). */
  name: string;
  /** The file is a LoRA adapter: the model is this base plus it. */
  adapterFor?: string;
}

/** The /api/create request that names an uploaded GGUF: a whole model, or an adapter on a base. */
export function createRequestOf(m: ModelImport, digest: string): CreateModelRequest {
  // The backend keeps the file under this name; it must end in .gguf for it to be read as one.
  const fileName = basename(m.file.path).toLowerCase().endsWith('.gguf') ? basename(m.file.path) : `${basename(m.file.path)}.gguf`;
  return m.adapterFor !== undefined ? { model: m.name, from: m.adapterFor, adapters: { [fileName]: digest } } : { model: m.name, files: { [fileName]: digest } };
}

export interface ModelImportSteps {
  /** Bytes hashed so far. */
  hashing?(done: number): void;
  /** The whole file is hashed. */
  hashed?(digest: string): void;
  /** Bytes uploaded so far (never called for a blob the backend has). */
  uploading?(sent: number): void;
  /** The blob is on the backend: `sent` false when it was there already. */
  uploaded?(sent: boolean): void;
  /** Sends the /api/create request (the CLI streams its progress; the daemon waits for its end). */
  create(request: CreateModelRequest): Promise<void>;
}

/**
 * Hashes, uploads and creates. Failures pass as they come: reading the file's (before `hashed`),
 * the upload's BlobRefused (the backend answered with an error) or a network error, then
 * `create`'s own.
 */
export async function importModelFile(backend: { url: string; headers: Readonly<Record<string, string>> }, m: ModelImport, steps: ModelImportSteps): Promise<{ digest: string }> {
  const digest = await sha256OfFile(m.file.path, steps.hashing);
  steps.hashed?.(digest);
  const sent = await uploadBlob(backend.url.replace(/\/+$/, ''), m.file.path, m.file.size, digest, steps.uploading, backend.headers);
  steps.uploaded?.(sent);
  await steps.create(createRequestOf(m, digest));
  return { digest };
}

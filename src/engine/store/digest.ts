// Content digests. The store only speaks sha256, as Ollama does; "sha256-<hex>" (the blob
// file-name form, which Ollama also accepts in URLs) is taken as input and normalized.
import { invalidRequest } from '../../errors.js';

const DIGEST_PATTERN = /^sha256[:-]([0-9a-f]{64})$/;
const BLOB_FILE_PATTERN = /^sha256-([0-9a-f]{64})$/;

/** The canonical "sha256:<hex>" form of a digest; throws invalidRequest naming it if malformed. */
export function parseDigest(input: string): string {
  const match = typeof input === 'string' ? DIGEST_PATTERN.exec(input) : null;
  if (!match) {
    const shown = typeof input === 'string' ? JSON.stringify(input.length > 100 ? `${input.slice(0, 100)}…` : input) : 'value';
    throw invalidRequest(`invalid digest ${shown}: expected sha256:<64 lowercase hex digits>`, 'invalid_digest');
  }
  return `sha256:${match[1]}`;
}

export function isDigest(input: string): boolean {
  return typeof input === 'string' && DIGEST_PATTERN.test(input);
}

/** The hex part of a digest, e.g. for the manifest digest Ollama reports in /api/tags. */
export function digestHex(digest: string): string {
  return parseDigest(digest).slice('sha256:'.length);
}

/** "sha256-<hex>": a ':' is not allowed in file names on every platform Ollama supports. */
export function blobFileName(digest: string): string {
  return `sha256-${digestHex(digest)}`;
}

/** The digest a blob file name stands for, or undefined for any other file. */
export function digestOfBlobFileName(fileName: string): string | undefined {
  const match = BLOB_FILE_PATTERN.exec(fileName);
  return match ? `sha256:${match[1]}` : undefined;
}

// Content-addressed blob files, named "sha256-<hex>" in one flat directory as in Ollama.
// A blob only ever appears under its final name complete and verified: writes go to a
// ".partial-" temp file in the same directory, are hashed while streaming, fsynced, and
// renamed into place only if the digest (and size limit) check passes.
import { createHash } from 'node:crypto';
import { open, readdir, readFile, rename, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError, invalidRequest, notFound } from '../../errors.js';
import { blobFileName, digestOfBlobFileName, parseDigest } from './digest.js';
import { PARTIAL_PREFIX, errnoCode, fsyncDir, tempPathIn, unlinkIfExists } from './fs-util.js';

export interface BlobWriteOptions {
  /** Reject (413, kind 'payload_too_large') as soon as more than this many bytes arrive. */
  maxBytes?: number;
}

export interface BlobWriteResult {
  digest: string;
  size: number;
}

/** Default cap for readJson: config blobs are small, and this bounds a hostile reference. */
export const DEFAULT_MAX_JSON_BYTES = 16 * 1024 * 1024;

export class BlobStore {
  constructor(readonly dir: string) {}

  /** Path of the blob file for `digest` (validated, so it can never leave `dir`). */
  pathOf(digest: string): string {
    return join(this.dir, blobFileName(digest));
  }

  async has(digest: string): Promise<boolean> {
    const path = this.pathOf(digest);
    try {
      return (await stat(path)).isFile();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  /** Size in bytes; throws notFound ('blob_not_found') when the blob is absent. */
  async size(digest: string): Promise<number> {
    return (await this.statBlob(digest)).size;
  }

  /** Modification time; the store's garbage collection uses it as the upload time. */
  async modifiedAt(digest: string): Promise<Date> {
    return (await this.statBlob(digest)).mtime;
  }

  /**
   * Streams `source` into the store and returns its digest and size. With `expectedDigest`
   * the content must hash to it. On any failure (mismatch, limit, a source that errors, a
   * disk error) the temp file is deleted and nothing becomes visible. On the limit the source
   * is left unconsumed rather than destroyed, so an HTTP caller can still answer 413.
   */
  async write(
    source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
    expectedDigest?: string,
    options: BlobWriteOptions = {},
  ): Promise<BlobWriteResult> {
    // Validate before reading a byte, so a bad digest costs the client nothing.
    const expected = expectedDigest === undefined ? undefined : parseDigest(expectedDigest);
    const { maxBytes } = options;
    if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
      throw new TypeError(`maxBytes must be a non-negative integer, got ${String(maxBytes)}`);
    }

    const temp = tempPathIn(this.dir);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const handle = await open(temp, 'wx', 0o644);
      try {
        const iterable: AsyncIterable<Uint8Array | string> = source;
        const iterator = iterable[Symbol.asyncIterator]();
        for (;;) {
          const next = await iterator.next();
          if (next.done) break;
          const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
          size += chunk.byteLength;
          if (maxBytes !== undefined && size > maxBytes) {
            throw new HearthError('payload_too_large', `blob is larger than the limit of ${maxBytes} bytes`, {
              code: 'payload_too_large',
            });
          }
          hash.update(chunk);
          await handle.write(chunk);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }

      const digest = `sha256:${hash.digest('hex')}`;
      if (expected !== undefined && digest !== expected) {
        throw invalidRequest(`digest mismatch: expected ${expected} got ${digest}`, 'digest_mismatch');
      }
      await this.commit(temp, digest);
      return { digest, size };
    } catch (err) {
      await unlinkIfExists(temp).catch(() => undefined);
      throw err;
    }
  }

  async writeBytes(bytes: Uint8Array, expectedDigest?: string, options: BlobWriteOptions = {}): Promise<BlobWriteResult> {
    async function* once(): AsyncGenerator<Uint8Array> {
      yield bytes;
    }
    return this.write(once(), expectedDigest, options);
  }

  /** Reads a blob as JSON (e.g. a model's config); notFound if absent, invalidRequest if not JSON. */
  async readJson(digest: string, maxBytes = DEFAULT_MAX_JSON_BYTES): Promise<unknown> {
    const canonical = parseDigest(digest);
    if ((await this.size(canonical)) > maxBytes) {
      throw invalidRequest(`blob ${canonical} is too large to read as JSON`, 'invalid_blob');
    }
    let text: string;
    try {
      text = await readFile(this.pathOf(canonical), 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw notFound(`blob ${canonical} not found`, 'blob_not_found');
      throw err;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw invalidRequest(`blob ${canonical} is not valid JSON: ${why}`, 'invalid_blob');
    }
  }

  /** Deletes a blob; returns false if it was already gone. */
  async remove(digest: string): Promise<boolean> {
    return unlinkIfExists(this.pathOf(digest));
  }

  /** Digests of every blob present, sorted; temp and unrelated files are ignored. */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names
      .map(digestOfBlobFileName)
      .filter((d): d is string => d !== undefined)
      .sort();
  }

  /**
   * Deletes leftover temp files from interrupted writes. Only safe while no write is in
   * flight, i.e. at start-up, because a live write's temp file looks the same.
   */
  async removePartials(): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith(PARTIAL_PREFIX)) continue;
      if (await unlinkIfExists(join(this.dir, name))) removed.push(name);
    }
    return removed;
  }

  private async commit(temp: string, digest: string): Promise<void> {
    const final = this.pathOf(digest);
    if (await this.has(digest)) {
      // Same content by definition. Refresh the mtime: a re-upload is a fresh upload as far
      // as the start-up collection of unreferenced blobs is concerned.
      await unlinkIfExists(temp);
      const now = new Date();
      await utimes(final, now, now).catch(() => undefined);
      return;
    }
    await rename(temp, final);
    await fsyncDir(this.dir);
  }

  private async statBlob(digest: string) {
    const canonical = parseDigest(digest);
    try {
      const info = await stat(this.pathOf(canonical));
      if (info.isFile()) return info;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    throw notFound(`blob ${canonical} not found`, 'blob_not_found');
  }
}

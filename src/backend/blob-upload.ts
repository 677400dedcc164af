import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';

// Putting a local file into an Ollama-compatible server's blob store, as `ollama create` does:
// hash it, ask whether the server has that digest (HEAD /api/blobs/:digest), and upload it
// only if not. Used by `hearth models import` and by fine-tune registration.

/** "sha256:<hex>" of a file, reading it once. */
export async function sha256OfFile(path: string, onBytes?: (done: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let done = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onBytes?.(done);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** The server answered the upload with an error status (a network failure is a plain error). */
export class BlobRefused extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(`blob upload failed: ${status} ${detail}`);
  }
}

/**
 * Uploads the file unless the server has its digest; returns whether it was sent. `headers` go
 * with both requests (the bundled engine's secret).
 */
export async function uploadBlob(
  baseUrl: string,
  path: string,
  size: number,
  digest: string,
  onBytes?: (sent: number) => void,
  headers: Readonly<Record<string, string>> = {},
): Promise<boolean> {
  const head = await fetch(`${baseUrl}/api/blobs/${digest}`, { method: 'HEAD', headers });
  if (head.ok) return false;
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      onBytes?.(sent);
      cb(null, chunk);
    },
  });
  const body = Readable.toWeb(createReadStream(path).pipe(counter)) as ReadableStream<Uint8Array>;
  const res = await fetch(`${baseUrl}/api/blobs/${digest}`, {
    method: 'POST',
    body,
    headers: { ...headers, 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    duplex: 'half',
  } as RequestInit & { duplex: 'half' });
  if (!res.ok) throw new BlobRefused(res.status, await res.text());
  return true;
}

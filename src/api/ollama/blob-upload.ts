import { Transform, type TransformCallback } from 'node:stream';
import type { RequestHandler } from 'express';
import { HearthError, unavailable } from '../../errors.js';
import type { ConcurrencyLimiter } from '../../gateway/concurrency.js';

// A blob upload (POST /ollama/api/blobs/{digest}) is streamed to the backend's blob store, never
// held in memory: what it costs is the backend's disk, a connection to the backend and the disk's
// write bandwidth for as long as it lasts (a GGUF is gigabytes). So before a byte is read, a
// workspace may have one upload in flight and the daemon MAX_BLOB_UPLOADS (gate below); the
// body may be at most limits.max_blob, and no more than the room left under the workspace's
// limits.blob_quota_per_workspace (blobAllowance), which counts only the workspace's blobs still
// on the backend (WorkspaceBlobs.reconcile, before the quota refuses or cuts an upload). A body
// without Content-Length is counted as it streams and cut at its allowance (byteLimit).

/** Blob uploads streamed to the backend at once, all workspaces together: two keep one slow client from blocking everyone, without splitting the disk's bandwidth many ways. */
export const MAX_BLOB_UPLOADS = 2;

export interface BlobBounds {
  /** limits.max_blob */
  maxBlobBytes: number;
  /** limits.blob_quota_per_workspace */
  quotaBytes: number;
}

/** What one upload may send, and the answer to a body past it. */
export interface BlobAllowance {
  /** Bytes the body may have. */
  limit: number;
  /** The refusal of a body of `bytes` (undefined: not known yet, the body was cut at `limit`). */
  refuse(bytes?: number): HearthError;
  /** Whether the room left under the quota, not limits.max_blob, sets `limit`. */
  quotaBound: boolean;
}

const tooLarge = (max: number, bytes?: number) =>
  new HearthError('payload_too_large', `${bytes === undefined ? 'the blob' : `the blob (${bytes} bytes)`} is larger than the largest this server takes, ${max} bytes (limits.max_blob)`, {
    code: 'blob_too_large',
  });

const quotaExceeded = (used: number, quota: number, bytes?: number) =>
  new HearthError(
    'payload_too_large',
    `this workspace has uploaded ${used} bytes of blobs of its ${quota} (limits.blob_quota_per_workspace)${bytes === undefined ? '' : `; this one (${bytes} bytes) does not fit`}. Only blobs still on the server count: delete the models made from them to give their bytes back, or ask the server's operator for more`,
    { code: 'blob_quota_exceeded' },
  );

/**
 * The allowance of an upload by a workspace that has uploaded `usedBytes` already. A blob it
 * holds already (`held`: the same digest) costs no quota again: only limits.max_blob bounds it.
 */
export function blobAllowance(bounds: BlobBounds, { usedBytes, held }: { usedBytes: number; held: boolean }): BlobAllowance {
  const room = held ? Infinity : Math.max(0, bounds.quotaBytes - usedBytes);
  if (room < bounds.maxBlobBytes) return { limit: room, refuse: (bytes) => quotaExceeded(usedBytes, bounds.quotaBytes, bytes), quotaBound: true };
  return { limit: bounds.maxBlobBytes, refuse: (bytes) => tooLarge(bounds.maxBlobBytes, bytes), quotaBound: false };
}

/**
 * The refusal of an upload before its body is read: a Content-Length past the allowance, or no
 * room at all left under the quota for a body whose length is not known. Undefined: go ahead.
 */
export function refusalBeforeReading(allowance: BlobAllowance, contentLength: number | undefined): HearthError | undefined {
  if (contentLength === undefined) return allowance.limit === 0 ? allowance.refuse() : undefined;
  return contentLength > allowance.limit ? allowance.refuse(contentLength) : undefined;
}

/**
 * Passes a body through while it stays within `limit` bytes; the first chunk past it fails the
 * stream with `refuse()` (so the backend's upload is aborted, its partial file discarded).
 * `bytes` is what has passed so far.
 */
export class ByteLimit extends Transform {
  bytes = 0;
  /** The refusal it failed with, once the body went past its limit. */
  exceeded: HearthError | undefined;

  constructor(
    private readonly limit: number,
    private readonly refuse: () => HearthError,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      this.exceeded = this.refuse();
      callback(this.exceeded);
      return;
    }
    callback(null, chunk);
  }
}

/**
 * Takes the workspace's one upload place and one of the daemon's MAX_BLOB_UPLOADS before the
 * body is read; both are held until the response closes. A refused upload's body is never read
 * (the connection is closed after the answer).
 */
export function blobUploadGate({ uploads, maxUploads = MAX_BLOB_UPLOADS }: { uploads: ConcurrencyLimiter; maxUploads?: number }): RequestHandler {
  return (_req, res, next) => {
    const workspaceId = res.locals.principal!.workspaceId;
    const release = uploads.acquireAll([
      {
        key: `blob:${workspaceId}`,
        limit: 1,
        refuse: () => new HearthError('rate_limited', 'this workspace is already uploading a blob: send the next one when it is stored', { code: 'blob_upload_in_progress', retryAfterS: 5 }),
      },
      { key: 'blob:*', limit: maxUploads, refuse: (n) => unavailable(`the server is receiving ${n} blob uploads, as many as it takes at once; retry shortly`, 5, 'blob_uploads_busy') },
    ]);
    res.on('close', release);
    next();
  };
}

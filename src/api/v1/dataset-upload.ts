import type { RequestHandler } from 'express';
import { HearthError, unavailable } from '../../errors.js';
import type { Datasets } from '../../finetune/datasets.js';
import type { ConcurrencyLimiter } from '../../gateway/concurrency.js';

// A dataset upload is the one request whose body may be tens of megabytes, and it is parsed in
// memory (the body, its parsed form and the stored lines, for a moment all at once). Eight
// uploads at once, even refused ones, took the daemon to 2.4 GB. So before a byte of it is read:
// the workspace must have room left under its quota, it may have one upload in progress, and
// the daemon parses at most finetune.max_uploads at once. Each place is held until the response
// closes. A refused upload's body is never read (the connection is closed after the answer).

export interface UploadGateDeps {
  datasets: Datasets;
  uploads: ConcurrencyLimiter;
  /** finetune.max_uploads */
  maxUploads: number;
  /** The body parser of the upload, run once the places are taken. */
  parse: RequestHandler;
}

export function datasetUploadGate({ datasets, uploads, maxUploads, parse }: UploadGateDeps): RequestHandler {
  return (req, res, next) => {
    const workspaceId = res.locals.principal!.workspaceId;
    datasets.assertRoom(workspaceId);
    const release = uploads.acquireAll([
      {
        key: `upload:${workspaceId}`,
        limit: 1,
        refuse: () => new HearthError('rate_limited', 'this workspace is already uploading a dataset: send the next one when it is stored', { code: 'upload_in_progress', retryAfterS: 5 }),
      },
      {
        key: 'upload:*',
        limit: maxUploads,
        refuse: (n) => unavailable(`the server is receiving ${n} dataset uploads, as many as it takes at once (finetune.max_uploads); retry shortly`, 5, 'uploads_busy'),
      },
    ]);
    res.on('close', release);
    parse(req, res, next);
  };
}

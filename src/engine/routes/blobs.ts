import { Router } from 'express';
import type { ModelStore } from '../store/model-store.js';

/**
 * HEAD/POST /api/blobs/sha256:<hex>. Mounted before the JSON parser: the body is the raw file,
 * streamed to disk and hashed on the way; bytes that do not match the digest are discarded.
 */
export function createBlobsRouter({ store, maxBlobBytes }: { store: ModelStore; maxBlobBytes: number }): Router {
  const router = Router();
  router.head('/api/blobs/:digest', async (req, res) => {
    res.status((await store.blobs.has(req.params.digest)) ? 200 : 404).end();
  });
  router.post('/api/blobs/:digest', async (req, res) => {
    await store.blobs.write(req, req.params.digest, { maxBytes: maxBlobBytes });
    res.status(201).end();
  });
  return router;
}

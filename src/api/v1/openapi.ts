import { Router } from 'express';

/** GET /api/v1/openapi.json: the contract as this daemon serves it (its limits, its public URL). No key needed. */
export function createOpenApiRouter(document: Record<string, unknown>): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => void res.json(document));
  return router;
}

import { Router } from 'express';
import { hearthVersion } from '../../version.js';

export interface HealthDeps {
  backend: () => { kind: string; url: string; state: string; pid?: number; restarts: number };
  databaseOk: () => boolean;
  startedAt: number;
}

/** GET /api/v1/health: no key needed, never charged. */
export function createHealthRouter({ backend, databaseOk, startedAt }: HealthDeps): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    const b = backend();
    const database = databaseOk() ? 'ok' : 'error';
    res.json({
      status: b.state === 'up' && database === 'ok' ? 'ok' : 'degraded',
      version: hearthVersion,
      backend: { kind: b.kind, url: b.url, state: b.state, pid: b.pid, restarts: b.restarts },
      database,
      uptime_s: Math.round((Date.now() - startedAt) / 100) / 10,
    });
  });
  return router;
}

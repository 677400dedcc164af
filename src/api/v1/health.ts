import { Router, type Request } from 'express';
import { hearthVersion } from '../../version.js';

export interface HealthDeps {
  backend: () => { kind: string; url: string; state: string; pid?: number; restarts: number; protected: boolean };
  databaseOk: () => boolean;
  startedAt: number;
}

/**
 * GET /api/v1/health: no key needed, never charged. Anyone who reaches the port gets the states
 * (enough for a load balancer or a status page); the backend's kind, address and pid, restarts,
 * whether it refuses callers other than Hearth (`protected`: the bundled engine with its secret) and
 * uptime, which map the machine for an attacker, only come with the admin token. A Bearer token
 * that is not the admin token gets the public answer, not a 401: customers' clients send their
 * workspace key that way on every call, and a wrong token learns nothing the public answer does
 * not say.
 */
export function createHealthRouter({ backend, databaseOk, startedAt, isAdmin }: HealthDeps & { isAdmin: (req: Request) => boolean }): Router {
  const router = Router();
  router.get('/health', (req, res) => {
    const b = backend();
    const database = databaseOk() ? 'ok' : 'error';
    const status = b.state === 'up' && database === 'ok' ? 'ok' : 'degraded';
    // The answer depends on the token: a cache in front must not hand the details to others.
    res.setHeader('Vary', 'Authorization');
    if (!isAdmin(req)) {
      res.json({ status, version: hearthVersion, backend: { state: b.state }, database });
      return;
    }
    res.json({
      status,
      version: hearthVersion,
      backend: { kind: b.kind, url: b.url, state: b.state, pid: b.pid, restarts: b.restarts, protected: b.protected },
      database,
      uptime_s: Math.round((Date.now() - startedAt) / 100) / 10,
    });
  });
  return router;
}

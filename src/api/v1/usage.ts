import { Router } from 'express';
import { usageReport, type UsageDeps } from '../../views/usage-report.js';

/** GET /api/v1/usage: any valid key sees its own workspace's period. */
export function createUsageRouter(deps: UsageDeps): Router {
  const router = Router();
  router.get('/usage', (_req, res) => {
    const p = res.locals.principal!;
    res.json({ ...usageReport(deps, p.workspaceId), key: { id: p.keyId, name: p.keyName, scopes: [...p.scopes] } });
  });
  return router;
}

import { Router } from 'express';
import type { FairQueue } from '../../gateway/fair-queue.js';

/**
 * GET /api/admin/queue: the fair queue's state as the operator reads it (and, later, metrics and
 * the console): plain numbers, per model and per workspace, with the bounds they are held to.
 */
export function createQueueRouter({ admission }: { admission: Pick<FairQueue, 'snapshot'> }): Router {
  const router = Router();
  router.get('/queue', (_req, res) => {
    const q = admission.snapshot();
    res.json({
      slots_per_model: q.slots,
      in_flight: q.inFlight,
      waiting: q.waiting,
      max_waiting: q.maxWaiting,
      max_waiting_per_workspace: q.maxWaitingPerTenant,
      models: q.models.map((m) => ({ model: m.model, slots: m.slots, in_flight: m.inFlight, waiting: m.waiting })),
      workspaces: q.tenants.map((t) => ({ workspace_id: t.tenant, weight: t.weight, counter: t.counter, in_flight: t.inFlight, waiting: t.waiting })),
    });
  });
  return router;
}

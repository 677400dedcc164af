import { Router } from 'express';
import type { Job } from '../../finetune/jobs.js';
import type { FinetuneService } from '../../finetune/service.js';
import { addJobOperations } from '../finetune-job-routes.js';

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** A job as the API shows it; `state` is what the seed's client polls. */
export function jobView(j: Job) {
  return {
    id: j.id,
    object: 'finetune.job',
    datasetId: j.datasetId,
    baseModel: j.baseModel,
    trainer: j.trainer,
    hyperparameters: j.hyperparameters,
    state: j.state,
    startAt: iso(j.startAt),
    createdAt: j.createdAt.toISOString(),
    queuedAt: iso(j.queuedAt),
    startedAt: iso(j.startedAt),
    finishedAt: iso(j.finishedAt),
    progress: j.progress,
    lossHistory: j.lossHistory,
    error: j.error,
    output: j.output,
    modelName: j.registeredModel,
  };
}

export interface JobsRouterDeps {
  finetune: FinetuneService;
}

/** /api/v1/finetune/jobs: create, list, get, start, cancel, register, log, delete, in the key's workspace. */
export function createJobsRouter({ finetune }: JobsRouterDeps): Router {
  const router = Router();
  const ws = (res: { locals: { principal?: { workspaceId: string } } }) => res.locals.principal!.workspaceId;

  router.get('/finetune/jobs', (_req, res) => void res.json({ jobs: finetune.jobs.list(ws(res)).map(jobView) }));
  addJobOperations(router, finetune, { newJobWorkspace: (_req, res) => ws(res), jobWorkspace: (_req, res) => ws(res), view: (j, extra) => ({ ...jobView(j), ...extra }) });
  router.get('/finetune/jobs/:id/log', (req, res) => {
    // The contract has checked both (and the validator may already have made them numbers).
    const after = req.query.after === undefined ? 0 : Number(req.query.after);
    const limit = req.query.limit === undefined ? 1000 : Number(req.query.limit);
    res.json(finetune.log(ws(res), req.params.id as string, after, limit));
  });
  router.delete('/finetune/jobs/:id', (req, res) => {
    finetune.deleteJob(ws(res), req.params.id as string);
    res.status(204).end();
  });
  return router;
}

import { Router } from 'express';
import type { Job } from '../../finetune/jobs.js';
import type { FinetuneService, JobRequest } from '../../finetune/service.js';
import type { RegisterRequest } from '../../finetune/register.js';

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

/** /api/v1/finetune/jobs: create, list, get, start, cancel, register, log, delete. */
export function createJobsRouter({ finetune }: JobsRouterDeps): Router {
  const router = Router();
  const ws = (res: { locals: { principal?: { workspaceId: string } } }) => res.locals.principal!.workspaceId;

  router.get('/finetune/jobs', (_req, res) => void res.json({ jobs: finetune.jobs.list(ws(res)).map(jobView) }));
  router.post('/finetune/jobs', async (req, res) => {
    const job = await finetune.createJob(ws(res), req.body as JobRequest);
    res.status(201).json(jobView(job));
  });
  router.get('/finetune/jobs/:id', (req, res) => void res.json(jobView(finetune.jobs.get(ws(res), req.params.id as string))));
  router.post('/finetune/jobs/:id/start', (req, res) => {
    const job = finetune.start(ws(res), req.params.id as string);
    res.status(202).json(jobView(job));
  });
  router.post('/finetune/jobs/:id/cancel', async (req, res) => void res.json(jobView(await finetune.cancel(ws(res), req.params.id as string))));
  router.post('/finetune/jobs/:id/register', async (req, res) => {
    const { job, smoke, warnings } = await finetune.register(ws(res), req.params.id as string, req.body as RegisterRequest);
    res.json({ ...jobView(job), smoke, warnings });
  });
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

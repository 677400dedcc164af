import type { Request, Response, Router } from 'express';
import type { Job } from '../finetune/jobs.js';
import type { FinetuneService, JobRequest } from '../finetune/service.js';
import type { RegisterRequest } from '../finetune/register.js';

/** How a surface acts on fine-tune jobs: which workspace a call is for, and how a job looks there. */
export interface JobSurface {
  /** The workspace a new job is created in. */
  newJobWorkspace(req: Request, res: Response): string;
  /** The workspace the job named by `:id` is looked up in: a job of another is a 404 there. */
  jobWorkspace(req: Request, res: Response): string;
  /** The job as the surface shows it, with what the operation adds (registration's smoke answer). */
  view(job: Job, extra?: Record<string, unknown>): unknown;
}

/**
 * The job operations /api/v1 (the key's workspace) and /api/admin (any workspace) share:
 * create, get, start, cancel and register, the same rules (FinetuneService) on both.
 */
export function addJobOperations(router: Router, finetune: FinetuneService, surface: JobSurface): void {
  const { newJobWorkspace, jobWorkspace, view } = surface;
  const id = (req: Request) => req.params.id as string;
  router.post('/finetune/jobs', async (req, res) => {
    const job = await finetune.createJob(newJobWorkspace(req, res), req.body as JobRequest);
    res.status(201).json(view(job));
  });
  router.get('/finetune/jobs/:id', (req, res) => void res.json(view(finetune.jobs.get(jobWorkspace(req, res), id(req)))));
  router.post('/finetune/jobs/:id/start', (req, res) => void res.status(202).json(view(finetune.start(jobWorkspace(req, res), id(req)))));
  router.post('/finetune/jobs/:id/cancel', async (req, res) => void res.json(view(await finetune.cancel(jobWorkspace(req, res), id(req)))));
  router.post('/finetune/jobs/:id/register', async (req, res) => {
    const { job, smoke, warnings } = await finetune.register(jobWorkspace(req, res), id(req), req.body as RegisterRequest);
    res.json(view(job, { smoke, warnings }));
  });
}

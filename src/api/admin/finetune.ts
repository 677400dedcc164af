import { Router } from 'express';
import type { Datasets, Dataset } from '../../finetune/datasets.js';
import type { Job, JobState } from '../../finetune/jobs.js';
import type { FinetuneService } from '../../finetune/service.js';
import type { Workspaces } from '../../domain/workspaces.js';
import { snakeKeys } from '../../views/snake-case.js';
import { datasetView } from '../v1/finetune-datasets.js';
import { jobView } from '../v1/finetune-jobs.js';
import { addJobOperations } from '../finetune-job-routes.js';
import { jobEventsHandler } from './job-events.js';

/** A trainer's artifacts keep the names it gave them. */
const OPAQUE = new Set(['artifacts']);

/** A job as the admin API shows it: /api/v1's view in snake_case, with its workspace. */
export function adminJobView(job: Job, extra: Record<string, unknown> = {}) {
  const view = snakeKeys({ ...jobView(job), ...extra }, OPAQUE) as Record<string, unknown>;
  return { id: job.id, object: view.object, workspace_id: job.workspaceId, ...view };
}

export const adminDatasetView = (d: Dataset) => {
  const view = snakeKeys(datasetView(d)) as Record<string, unknown>;
  return { id: d.id, object: view.object, workspace_id: d.workspaceId, ...view };
};

export interface AdminFinetuneDeps {
  finetune: FinetuneService;
  datasets: Datasets;
  workspaces: Workspaces;
  /** limits.stream_heartbeat */
  heartbeatMs: number;
}

/**
 * /api/admin/finetune: the datasets and jobs of every workspace, and the job operations of
 * /api/v1 on any of them (a new job names its workspace), plus a job's live events.
 */
export function createAdminFinetuneRouter({ finetune, datasets, workspaces, heartbeatMs }: AdminFinetuneDeps): Router {
  const router = Router();
  /** The `workspace` filter, by id or name: 404 when there is no such workspace. */
  const filter = (q: unknown) => (typeof q === 'string' ? workspaces.get(q).id : undefined);

  router.get('/finetune/datasets', (req, res) => {
    const workspaceId = filter(req.query.workspace);
    res.json({ datasets: (workspaceId === undefined ? datasets.all() : datasets.list(workspaceId)).map(adminDatasetView) });
  });
  router.get('/finetune/jobs', (req, res) => {
    const state = typeof req.query.state === 'string' ? (req.query.state as JobState) : undefined;
    res.json({ jobs: finetune.jobs.all({ workspaceId: filter(req.query.workspace), state }).map((j) => adminJobView(j)) });
  });
  addJobOperations(router, finetune, {
    newJobWorkspace: (req) => workspaces.get((req.body as { workspace: string }).workspace).id,
    jobWorkspace: (req) => finetune.jobs.byId(req.params.id as string).workspaceId,
    view: adminJobView,
  });
  router.get('/finetune/jobs/:id/events', jobEventsHandler({ finetune, heartbeatMs }));
  return router;
}

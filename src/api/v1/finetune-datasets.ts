import { Router } from 'express';
import type { Dataset, Datasets } from '../../finetune/datasets.js';

/** A dataset as the API shows it (camelCase, like the rest of the fine-tune surface in the seed's flow). */
export function datasetView(d: Dataset) {
  return {
    id: d.id,
    object: 'finetune.dataset',
    title: d.title,
    format: d.format,
    recordCount: d.recordCount,
    tokenEstimate: d.tokenEstimate,
    bytes: d.bytes,
    createdAt: d.createdAt.toISOString(),
  };
}

/** GET/POST /api/v1/finetune/datasets and DELETE /api/v1/finetune/datasets/:id, scoped to the key's workspace. */
export function createDatasetsRouter({ datasets }: { datasets: Datasets }): Router {
  const router = Router();
  router.get('/finetune/datasets', (_req, res) => {
    res.json({ datasets: datasets.list(res.locals.principal!.workspaceId).map(datasetView) });
  });
  router.post('/finetune/datasets', async (req, res) => {
    const body = req.body as { title: string; records?: unknown; jsonl?: unknown };
    const d = await datasets.create(res.locals.principal!.workspaceId, body);
    res.status(201).json(datasetView(d));
  });
  router.delete('/finetune/datasets/:id', (req, res) => {
    datasets.delete(res.locals.principal!.workspaceId, req.params.id as string);
    res.status(204).end();
  });
  return router;
}

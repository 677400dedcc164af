import { Router } from 'express';
import type { ModelResponse } from 'ollama';
import { HearthError } from '../../errors.js';
import type { BackendClient } from '../../backend/backend-client.js';
import { usableBy, type ModelMetadata } from '../../domain/model-metadata.js';

/**
 * GET /v1/models and /v1/models/{id}: the backend's models this key's workspace may call, as
 * /api/v1/models has them (never another workspace's fine-tunes), less those the operator
 * switched off: OpenAI's model object cannot say so, and a listed model should answer.
 */
export function createOpenAiModelsRouter({ chat, metadata }: { chat: BackendClient; metadata: ModelMetadata }): Router {
  const router = Router();
  const usable = async (workspaceId: string) =>
    (await chat.models()).map((m) => ({ m, set: metadata.lookup(m.name) })).filter(({ set }) => usableBy(set, workspaceId) && set?.isActive !== false);
  const modelObject = ({ m, set }: { m: ModelResponse; set: { owner?: string } | undefined }) => ({
    id: m.name,
    object: 'model',
    created: Math.floor(new Date(m.modified_at).getTime() / 1000),
    // A fine-tune is its workspace's; the rest are the operator's.
    owned_by: set?.owner ?? 'hearth',
  });

  router.get('/models', async (_req, res) => {
    res.json({ object: 'list', data: (await usable(res.locals.principal!.workspaceId)).map(modelObject) });
  });

  router.get('/models/:id', async (req, res) => {
    const id = req.params.id!;
    const all = await usable(res.locals.principal!.workspaceId);
    // Clients name a model with or without its default tag, as the backend resolves it.
    const found = all.find(({ m }) => m.name === id) ?? all.find(({ m }) => m.name === `${id}:latest`);
    if (found === undefined) throw new HearthError('not_found', `the model "${id}" does not exist or this key may not use it`, { code: 'model_not_found', param: 'model' });
    res.json(modelObject(found));
  });
  return router;
}

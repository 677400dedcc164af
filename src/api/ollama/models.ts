import { Router } from 'express';
import type { BackendClient } from '../../backend/backend-client.js';
import type { ModelMetadata } from '../../domain/model-metadata.js';
import { backendJson, requireVisible, visibleTo } from './relay.js';

type ModelList = { models?: Array<{ name?: string; model?: string }> };

/**
 * GET /ollama/api/tags, POST /ollama/api/show, GET /ollama/api/ps: the backend's answers, less
 * every model the key's workspace may not use (another workspace's fine-tunes, the ones the
 * operator switched off), which are "not found" to it as if they did not exist.
 */
export function createOllamaModelsRouter({ chat, metadata }: { chat: BackendClient; metadata: ModelMetadata }): Router {
  const router = Router();
  const listOf = (path: '/api/tags' | '/api/ps') => async (_req: unknown, res: import('express').Response) => {
    const workspaceId = res.locals.principal!.workspaceId;
    const list = await backendJson<ModelList>(await chat.forward('GET', path));
    res.json({ ...list, models: (list.models ?? []).filter((m) => visibleTo(metadata, m.name ?? m.model ?? '', workspaceId)) });
  };
  router.get('/api/tags', listOf('/api/tags'));
  router.get('/api/ps', listOf('/api/ps'));

  router.post('/api/show', async (req, res) => {
    const body = req.body as { model?: string; name?: string };
    // Older clients (Continue among them) send `name`; the contract requires one of the two.
    const model = (body.model ?? body.name)!;
    requireVisible(metadata, model, res.locals.principal!.workspaceId);
    res.json(await backendJson(await chat.forward('POST', '/api/show', { ...body, model }), model));
  });
  return router;
}

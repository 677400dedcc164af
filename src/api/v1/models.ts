import { Router } from 'express';
import type { BackendClient } from '../../backend/backend-client.js';
import { usableBy, type ModelMetadata } from '../../domain/model-metadata.js';
import { modelDefaults } from '../../gateway/model-settings.js';

/** GET /api/v1/models: the backend's models this key's workspace may use, joined with the operator's metadata. */
export function createModelsRouter({ chat, metadata }: { chat: BackendClient; metadata: ModelMetadata }): Router {
  const router = Router();
  router.get('/models', async (_req, res) => {
    const workspaceId = res.locals.principal!.workspaceId;
    const models = (await chat.models()).map((m) => ({ m, set: metadata.lookup(m.name) })).filter(({ set }) => usableBy(set, workspaceId));
    res.json({
      models: models.map(({ m, set }) => {
        return {
          id: m.name,
          name: set?.name ?? m.name.replace(/:latest$/, ''),
          description: set?.description ?? '',
          is_active: set?.isActive ?? true,
          parameters: modelDefaults(set?.parameters),
          size: m.size,
          family: m.details?.family ?? '',
          quantization: m.details?.quantization_level ?? '',
          parameter_size: m.details?.parameter_size ?? '',
          modified_at: new Date(m.modified_at).toISOString(),
        };
      }),
    });
  });
  return router;
}

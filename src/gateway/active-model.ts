import type { RequestHandler } from 'express';
import { HearthError } from '../errors.js';
import type { ModelMetadata } from '../domain/model-metadata.js';

/**
 * Refuses chat and generation on a model the operator switched off (is_active: false in
 * PUT /api/admin/models/{model}) before anything is reserved or the backend is called.
 */
export function refuseInactiveModel(metadata: ModelMetadata): RequestHandler {
  return (req, _res, next) => {
    const model = (req.body as { model?: unknown } | undefined)?.model;
    if (typeof model === 'string' && metadata.lookup(model)?.isActive === false) {
      throw new HearthError('not_found', `model '${model}' is switched off by the operator of this server`, { code: 'model_inactive' });
    }
    next();
  };
}

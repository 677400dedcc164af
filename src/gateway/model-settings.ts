import { HearthError, notFound } from '../errors.js';
import { usableBy, type ModelMeta, type ModelMetadata } from '../domain/model-metadata.js';
import type { Sampling } from '../backend/inference.js';

// What is set per model and a chat or generate call obeys: whose it is (a fine-tuned model is its
// workspace's), whether the operator switched it off (PUT /api/admin/models/{model}), and the
// sampling defaults for what a call leaves out.

/** The sampling fields a model's `parameters` may default (the contract's ModelDefaults). */
const DEFAULTABLE = ['temperature', 'top_p', 'top_k', 'max_tokens', 'stop', 'seed'] as const;
export type ModelDefaults = Pick<Sampling, (typeof DEFAULTABLE)[number]>;

/** The defaultable part of stored parameters (rows written before the contract named the fields may hold others). */
export function modelDefaults(parameters: Record<string, unknown> | undefined): ModelDefaults {
  const out: Record<string, unknown> = {};
  if (parameters) for (const k of DEFAULTABLE) if (parameters[k] !== undefined) out[k] = parameters[k];
  return out as ModelDefaults;
}

/**
 * Refuses another workspace's fine-tuned model and a model the operator switched off
 * (is_active: false); answers what the operator set for the model, if anything. The guard runs
 * it for every inference operation before anything is reserved or the backend is called.
 */
export function checkModelAccess(metadata: ModelMetadata, model: string, workspaceId: string): ModelMeta | undefined {
  const set = metadata.lookup(model);
  if (set === undefined) return undefined;
  // Another workspace's fine-tuned model: as if it did not exist (its name tells nothing).
  if (!usableBy(set, workspaceId)) throw notFound(`model '${model}' not found`, 'model_not_found');
  if (set.isActive === false) throw new HearthError('not_found', `model '${model}' is switched off by the operator of this server`, { code: 'model_inactive' });
  return set;
}

/** Fills the sampling fields a (validated) body leaves out from the model's parameters. */
export function applyModelDefaults(body: Record<string, unknown>, set: ModelMeta | undefined): void {
  const defaults = modelDefaults(set?.parameters);
  for (const k of DEFAULTABLE) if (body[k] === undefined && defaults[k] !== undefined) body[k] = defaults[k];
}

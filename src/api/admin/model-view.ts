import type { ModelMeta } from '../../domain/model-metadata.js';
import { modelDefaults } from '../../gateway/model-settings.js';

/**
 * The operator's settings for one model, as PUT /api/admin/models/{model} answers them. Only the
 * admin API shows it (the CLI has no models-settings command), and its defaults are the
 * gateway's, so it lives here rather than beside the record views the CLI shares.
 */
export const modelView = (m: ModelMeta | undefined) => ({
  ...(m?.name === undefined ? {} : { name: m.name }),
  ...(m?.description === undefined ? {} : { description: m.description }),
  ...(m?.isActive === undefined ? {} : { is_active: m.isActive }),
  parameters: modelDefaults(m?.parameters),
  // The owning workspace's id; null: the operator's model, for every workspace.
  workspace_id: m?.owner ?? null,
});

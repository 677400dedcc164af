import type { Plan } from '../domain/catalog.js';
import type { ApiKeyRecord } from '../domain/keys.js';
import type { Workspace } from '../domain/workspaces.js';

/** JSON views of domain records for the admin API and the CLI's --json output (snake_case). */
export const workspaceView = (w: Workspace) => ({
  id: w.id,
  name: w.name,
  plan: w.planId,
  monthly_credits: w.monthlyCredits ?? null,
  created_at: w.createdAt.toISOString(),
});

export const keyView = (k: ApiKeyRecord) => ({
  id: k.id,
  workspace_id: k.workspaceId,
  name: k.name,
  scopes: [...k.scopes],
  created_at: k.createdAt.toISOString(),
  expires_at: k.expiresAt?.toISOString() ?? null,
  revoked_at: k.revokedAt?.toISOString() ?? null,
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
});

export const planView = (p: Plan) => ({
  id: p.id,
  title: p.title,
  description: p.description,
  scopes: [...p.scopes],
  monthly_credits: p.monthlyCredits,
  rpm: p.rpm,
  max_concurrent: p.maxConcurrent,
  weight: p.weight,
});

import type { Database } from 'better-sqlite3';

export interface ModelMeta {
  name?: string;
  description?: string;
  isActive?: boolean;
  parameters?: Record<string, unknown>;
  /** The workspace whose fine-tune job registered the model; undefined: the operator's, for every workspace. */
  owner?: string;
}

interface Row {
  model_id: string;
  name: string | null;
  description: string | null;
  is_active: number | null;
  parameters: string | null;
  owner_workspace_id: string | null;
}

const DEFAULT_HOST_PREFIX = 'registry.ollama.ai/';
const DEFAULT_NAMESPACE_PREFIX = 'library/';

/**
 * The one key of a model name, as the backend resolves it: Ollama and the bundled engine read
 * "Llama3", "llama3", "library/llama3" and "registry.ollama.ai/library/llama3:latest" as one
 * model (case-insensitive, default host, namespace and tag), so the operator's settings and a
 * model's owner must be found under every one of those spellings. Otherwise another workspace
 * could call a fine-tuned model, or a switched-off one, by spelling its name differently.
 */
export function modelKey(model: string): string {
  let key = model.toLowerCase();
  if (key.startsWith(DEFAULT_HOST_PREFIX) && key.split('/').length === 3) key = key.slice(DEFAULT_HOST_PREFIX.length);
  if (key.startsWith(DEFAULT_NAMESPACE_PREFIX) && key.split('/').length === 2) key = key.slice(DEFAULT_NAMESPACE_PREFIX.length);
  // Ollama's ":latest" when the name has none (a registry host's port is not a tag).
  return key.slice(key.lastIndexOf('/') + 1).includes(':') ? key : `${key}:latest`;
}

/** Whether a workspace may see and use a model: the operator's models are everyone's, a registered one its owner's. */
export function usableBy(meta: ModelMeta | undefined, workspaceId: string): boolean {
  return meta?.owner === undefined || meta.owner === workspaceId;
}

/** What the operator says about each model; unset fields fall back to what the backend reports. */
export class ModelMetadata {
  private cache?: Map<string, ModelMeta>;

  constructor(
    private readonly db: Database,
    private readonly now: () => Date = () => new Date(),
  ) {}

  all(): Map<string, ModelMeta> {
    this.cache ??= new Map(
      (this.db.prepare('SELECT model_id, name, description, is_active, parameters, owner_workspace_id FROM model_metadata').all() as Row[]).map((r) => [
        r.model_id,
        {
          name: r.name ?? undefined,
          description: r.description ?? undefined,
          isActive: r.is_active === null ? undefined : r.is_active === 1,
          parameters: r.parameters === null ? undefined : (JSON.parse(r.parameters) as Record<string, unknown>),
          owner: r.owner_workspace_id ?? undefined,
        },
      ]),
    );
    return this.cache;
  }

  /** What is set for a model under any spelling of its name (rows are kept under modelKey, migration 0006). */
  lookup(model: string): ModelMeta | undefined {
    const all = this.all();
    return all.size === 0 ? undefined : all.get(modelKey(model));
  }

  /** Merges into what is set for the model (absent fields keep their value; owner null: the operator's again). */
  set(model: string, meta: Omit<ModelMeta, 'owner'> & { owner?: string | null }): void {
    const modelId = modelKey(model);
    const current = this.all().get(modelId) ?? {};
    const next = { ...current, ...Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined)) } as Omit<ModelMeta, 'owner'> & { owner?: string | null };
    this.db
      .prepare(
        `INSERT INTO model_metadata (model_id, name, description, is_active, parameters, owner_workspace_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(model_id) DO UPDATE SET name = excluded.name, description = excluded.description, is_active = excluded.is_active, parameters = excluded.parameters,
           owner_workspace_id = excluded.owner_workspace_id, updated_at = excluded.updated_at`,
      )
      .run(
        modelId,
        next.name ?? null,
        next.description ?? null,
        next.isActive === undefined ? null : next.isActive ? 1 : 0,
        next.parameters === undefined ? null : JSON.stringify(next.parameters),
        next.owner ?? null,
        this.now().toISOString(),
      );
    this.cache = undefined;
  }

  /** Forgets what is set for a model under any spelling of its name; returns whether there was a row. */
  remove(model: string): boolean {
    const removed = this.db.prepare('DELETE FROM model_metadata WHERE model_id = ?').run(modelKey(model)).changes > 0;
    this.cache = undefined;
    return removed;
  }
}

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

/** A model name with its tag: Ollama's ":latest" when the name has none (a registry host's port is not a tag). */
export function withTag(model: string): string {
  return model.slice(model.lastIndexOf('/') + 1).includes(':') ? model : `${model}:latest`;
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

  /**
   * What is set for a model as a client or the backend names it: "llama3" and "llama3:latest"
   * are one model, as in Ollama. Rows are kept under the full name; a row written under a bare
   * name before that rule is still found.
   */
  lookup(model: string): ModelMeta | undefined {
    const all = this.all();
    if (all.size === 0) return undefined;
    const full = withTag(model);
    return all.get(full) ?? (full.endsWith(':latest') ? all.get(full.slice(0, -':latest'.length)) : undefined);
  }

  /** Merges into what is set for the model (absent fields keep their value; owner null: the operator's again). */
  set(model: string, meta: Omit<ModelMeta, 'owner'> & { owner?: string | null }): void {
    const modelId = withTag(model);
    const current = this.lookup(modelId) ?? {};
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
}

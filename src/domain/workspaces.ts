import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { conflict, invalidRequest, notFound } from '../errors.js';
import { checkCredits } from './catalog.js';
import type { Clock } from './clock.js';

export interface Workspace {
  id: string;
  name: string;
  planId: string;
  /** Override of the plan's monthly credits; null = the plan's. */
  monthlyCredits: number | null;
  createdAt: Date;
}

interface WorkspaceRow {
  id: string;
  name: string;
  plan_id: string;
  monthly_credits: number | null;
  created_at: string;
}

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const ID_RE = /^ws_[0-9a-f]{16}$/;

export function workspaceFromRow(r: WorkspaceRow): Workspace {
  return { id: r.id, name: r.name, planId: r.plan_id, monthlyCredits: r.monthly_credits, createdAt: new Date(r.created_at) };
}

export class Workspaces {
  private readonly stmts;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {
    const cols = 'id, name, plan_id, monthly_credits, created_at';
    this.stmts = {
      insert: db.prepare('INSERT INTO workspaces (id, name, plan_id, monthly_credits, created_at) VALUES (?, ?, ?, ?, ?)'),
      list: db.prepare<[], WorkspaceRow>(`SELECT ${cols} FROM workspaces ORDER BY created_at, name`),
      byId: db.prepare<[string], WorkspaceRow>(`SELECT ${cols} FROM workspaces WHERE id = ?`),
      byName: db.prepare<[string], WorkspaceRow>(`SELECT ${cols} FROM workspaces WHERE name = ?`), // COLLATE NOCASE from the column
      planExists: db.prepare<[string], number>('SELECT 1 FROM plans WHERE id = ?').pluck(),
      setPlan: db.prepare('UPDATE workspaces SET plan_id = ? WHERE id = ?'),
      setCredits: db.prepare('UPDATE workspaces SET monthly_credits = ? WHERE id = ?'),
      budget: db.prepare<[string], { budget: number | null }>(
        'SELECT coalesce(w.monthly_credits, p.monthly_credits) AS budget FROM workspaces w JOIN plans p ON p.id = w.plan_id WHERE w.id = ?',
      ),
    };
  }

  create(input: { name: string; planId: string; monthlyCredits?: number | null }): Workspace {
    const name = input.name;
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw invalidRequest('workspace name must be 1–64 characters of A–Z, a–z, 0–9, ".", "_" or "-"', 'invalid_workspace_name');
    }
    // get() takes an id or a name; a name shaped like an id could shadow another workspace.
    if (ID_RE.test(name)) throw invalidRequest(`workspace name '${name}' looks like a workspace id`, 'invalid_workspace_name');
    this.requirePlan(input.planId);
    const credits = input.monthlyCredits === undefined ? null : checkCredits(input.monthlyCredits, 'monthlyCredits', true);
    const id = `ws_${randomBytes(8).toString('hex')}`;
    const createdAt = this.clock.now();
    try {
      this.stmts.insert.run(id, name, input.planId, credits, createdAt.toISOString());
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw conflict(`a workspace named '${name}' already exists`, 'workspace_exists');
      throw err;
    }
    return { id, name, planId: input.planId, monthlyCredits: credits, createdAt };
  }

  list(): Workspace[] {
    return this.stmts.list.all().map(workspaceFromRow);
  }

  /** By id ('ws_…') or by name (case-insensitive); undefined when there is none. */
  find(idOrName: string): Workspace | undefined {
    const row = this.stmts.byId.get(idOrName) ?? this.stmts.byName.get(idOrName);
    return row === undefined ? undefined : workspaceFromRow(row);
  }

  /** By id or name, as find(); 404 when there is none. */
  get(idOrName: string): Workspace {
    const ws = this.find(idOrName);
    if (ws === undefined) throw notFound(`no workspace '${idOrName}'`, 'workspace_not_found');
    return ws;
  }

  /** Changes the plan, the workspace's own budget (null: its plan's), or both, in one transaction: all or nothing. */
  update(idOrName: string, changes: { planId?: string; monthlyCredits?: number | null }): Workspace {
    return this.db.transaction(() => {
      let ws = this.get(idOrName);
      if (changes.planId !== undefined) ws = this.setPlan(ws.id, changes.planId);
      if (changes.monthlyCredits !== undefined) ws = this.setCredits(ws.id, changes.monthlyCredits);
      return ws;
    })();
  }

  setPlan(idOrName: string, planId: string): Workspace {
    const ws = this.get(idOrName);
    this.requirePlan(planId);
    this.stmts.setPlan.run(planId, ws.id);
    return { ...ws, planId };
  }

  /** Sets the workspace's own monthly credits; null returns it to its plan's. */
  setCredits(idOrName: string, credits: number | null): Workspace {
    const ws = this.get(idOrName);
    const n = checkCredits(credits, 'monthlyCredits', true);
    this.stmts.setCredits.run(n, ws.id);
    return { ...ws, monthlyCredits: n };
  }

  /** Effective monthly credits: the workspace's override, else its plan's; null = unlimited. */
  budget(workspace: Workspace | string): number | null {
    const id = typeof workspace === 'string' ? this.get(workspace).id : workspace.id;
    const row = this.stmts.budget.get(id);
    if (row === undefined) throw notFound(`no workspace '${id}'`, 'workspace_not_found');
    return row.budget;
  }

  private requirePlan(planId: string): void {
    if (typeof planId !== 'string' || this.stmts.planExists.get(planId) === undefined) {
      throw invalidRequest(`unknown plan '${String(planId)}'`, 'unknown_plan');
    }
  }
}

import type { Catalog } from '../domain/catalog.js';
import type { Ledger } from '../domain/ledger.js';
import type { Workspaces } from '../domain/workspaces.js';

export interface UsageDeps {
  ledger: Ledger;
  catalog: Catalog;
  workspaces: Workspaces;
}

/** The usage report of a workspace, shared by GET /api/v1/usage, the admin API and `hearth usage`. */
export function usageReport({ ledger, catalog, workspaces }: UsageDeps, workspaceId: string, period?: string) {
  const workspace = workspaces.get(workspaceId);
  const plan = catalog.plan(workspace.planId);
  const u = ledger.usage(workspace.id, period);
  return {
    workspace: { id: workspace.id, name: workspace.name },
    plan: { id: plan.id, title: plan.title, scopes: [...plan.scopes], rpm: plan.rpm, max_concurrent: plan.maxConcurrent },
    period: { id: u.period, start: u.periodStart.toISOString(), end: u.periodEnd.toISOString() },
    credits: { limit: u.limit, used: u.used, remaining: u.remaining },
    endpoints: u.byEndpoint.map((e) => ({ endpoint: e.endpoint, calls: e.calls, credits: e.credits })),
  };
}

/** Every workspace's report for one period, in the order of the workspace list (GET /api/admin/usage, hearth usage). */
export function usageReports(deps: UsageDeps, period?: string) {
  return deps.workspaces.list().map((w) => usageReport(deps, w.id, period));
}

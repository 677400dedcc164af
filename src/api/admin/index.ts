import { Router } from 'express';
import type { Catalog, Scope } from '../../domain/catalog.js';
import type { Keys } from '../../domain/keys.js';
import type { Ledger } from '../../domain/ledger.js';
import type { Workspaces } from '../../domain/workspaces.js';
import { usageReport, usageReports } from '../../views/usage-report.js';
import { keyView, planView, workspaceView } from '../../views/record-views.js';

export interface AdminDeps {
  catalog: Catalog;
  workspaces: Workspaces;
  keys: Keys;
  ledger: Ledger;
}

/** The operator API under /api/admin (mounted behind requireAdmin): workspaces, keys, plans and usage; models, the overview and the request log's totals have their own files. */
export function createAdminRouter(deps: AdminDeps): Router {
  const { catalog, workspaces, keys, ledger } = deps;
  const router = Router();

  router.get('/workspaces', (_req, res) => void res.json({ workspaces: workspaces.list().map(workspaceView) }));
  router.post('/workspaces', (req, res) => {
    const b = req.body as { name: string; plan: string; monthly_credits?: number | null };
    res.status(201).json(workspaceView(workspaces.create({ name: b.name, planId: b.plan, monthlyCredits: b.monthly_credits ?? undefined })));
  });
  router.patch('/workspaces/:workspace', (req, res) => {
    const b = req.body as { plan?: string; monthly_credits?: number | null };
    res.json(workspaceView(workspaces.update(req.params.workspace, { planId: b.plan, monthlyCredits: b.monthly_credits })));
  });
  router.get('/workspaces/:workspace/usage', (req, res) => {
    const w = workspaces.get(req.params.workspace);
    res.json(usageReport({ ledger, catalog, workspaces }, w.id, typeof req.query.period === 'string' ? req.query.period : undefined));
  });

  router.get('/usage', (req, res) => {
    res.json({ usage: usageReports({ ledger, catalog, workspaces }, typeof req.query.period === 'string' ? req.query.period : undefined) });
  });

  router.get('/keys', (req, res) => {
    const workspace = typeof req.query.workspace === 'string' ? workspaces.get(req.query.workspace).id : undefined;
    res.json({ keys: keys.list({ workspaceId: workspace }).map(keyView) });
  });
  router.post('/keys', (req, res) => {
    const b = req.body as { workspace: string; name: string; scopes?: Scope[]; expires_at?: string };
    const w = workspaces.get(b.workspace);
    const { key, record } = keys.create({ workspaceId: w.id, name: b.name, scopes: b.scopes, expiresAt: b.expires_at ? new Date(b.expires_at) : undefined });
    res.status(201).json({ ...keyView(record), key });
  });
  router.patch('/keys/:id', (req, res) => {
    const b = req.body as { name?: string; expires_at?: string | null };
    res.json(keyView(keys.update(req.params.id, { name: b.name, expiresAt: b.expires_at === undefined ? undefined : b.expires_at === null ? null : new Date(b.expires_at) })));
  });
  router.post('/keys/:id/revoke', (req, res) => void res.json(keyView(keys.revoke(req.params.id))));
  router.post('/keys/:id/rotate', (req, res) => {
    const { key, record } = keys.rotate(req.params.id);
    res.json({ ...keyView(record), key });
  });

  router.get('/plans', (_req, res) => void res.json({ plans: catalog.plans().map(planView) }));
  router.patch('/plans/:plan', (req, res) => {
    const b = req.body as { monthly_credits?: number | null; rpm?: number; scopes?: Scope[]; max_concurrent?: number; weight?: number };
    res.json(planView(catalog.setPlan(req.params.plan, { monthlyCredits: b.monthly_credits, rpm: b.rpm, scopes: b.scopes, maxConcurrent: b.max_concurrent, weight: b.weight })));
  });

  router.get('/endpoints', (_req, res) => void res.json({ endpoints: catalog.endpoints() }));
  router.put('/endpoints', (req, res) => {
    const b = req.body as { endpoint: string; credits?: number; scope?: Scope | null };
    res.json(catalog.setEndpointCost(b.endpoint, { credits: b.credits, scope: b.scope }));
  });

  return router;
}

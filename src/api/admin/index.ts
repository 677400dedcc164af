import { Router } from 'express';
import type { Catalog, Scope } from '../../domain/catalog.js';
import type { Keys } from '../../domain/keys.js';
import type { Ledger } from '../../domain/ledger.js';
import type { Workspaces } from '../../domain/workspaces.js';
import { usageReport, usageReports } from '../../views/usage-report.js';
import { modelKey, type ModelMetadata } from '../../domain/model-metadata.js';
import type { BackendClient } from '../../backend/backend-client.js';
import { keyView, planView, workspaceView } from '../../views/record-views.js';
import { modelView } from './model-view.js';
import { requireModelName } from '../../engine/store/model-name.js';

export interface AdminDeps {
  catalog: Catalog;
  workspaces: Workspaces;
  keys: Keys;
  ledger: Ledger;
  metadata: ModelMetadata;
  chat: Pick<BackendClient, 'models'>;
}

/** The operator API under /api/admin (mounted behind requireAdmin): workspaces, keys, plans, usage and model metadata. */
export function createAdminRouter(deps: AdminDeps): Router {
  const { catalog, workspaces, keys, ledger, metadata, chat } = deps;
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

  // Who owns what, and what is set for names the backend lacks: a workspace's registered name
  // the operator has not pulled yet shows here before it hides the operator's model of that name.
  router.get('/models', async (_req, res) => {
    const onBackend = new Set((await chat.models()).map((m) => modelKey(m.name)));
    const set = metadata.all();
    const ids = [...new Set([...onBackend, ...set.keys()])].sort();
    res.json({ models: ids.map((id) => ({ id, ...modelView(set.get(id)), on_backend: onBackend.has(id) })) });
  });
  router.put('/models/:model', (req, res) => {
    // A name the backend would refuse never gets a row: it could name no model, and its parts
    // would become paths in the engine's store were it ever pulled under that name.
    requireModelName(req.params.model, 'model');
    const b = req.body as { name?: string; description?: string; is_active?: boolean; parameters?: Record<string, unknown>; workspace?: string | null };
    // The operator may give a model to a workspace, or take it back (null): a name a workspace
    // registered before the operator pulled a model of that name, say.
    const owner = b.workspace === undefined ? undefined : b.workspace === null ? null : workspaces.get(b.workspace).id;
    metadata.set(req.params.model, { name: b.name, description: b.description, isActive: b.is_active, parameters: b.parameters, owner });
    // The model's whole record as it now stands, under its full name.
    res.json({ id: modelKey(req.params.model), ...modelView(metadata.lookup(req.params.model)) });
  });
  return router;
}

import { Router } from 'express';
import type { BackendClient } from '../../backend/backend-client.js';
import { backendError, BackendResponseError } from '../../backend/backend-errors.js';
import { BlobRefused } from '../../backend/blob-upload.js';
import { checkModelFile, importModelFile } from '../../backend/model-import.js';
import { modelKey, type ModelMetadata } from '../../domain/model-metadata.js';
import type { Workspaces } from '../../domain/workspaces.js';
import { requireModelName } from '../../engine/store/model-name.js';
import { conflict, HearthError, invalidRequest, notFound } from '../../errors.js';
import { modelView } from './model-view.js';

export interface AdminModelsDeps {
  metadata: ModelMetadata;
  workspaces: Workspaces;
  chat: Pick<BackendClient, 'models' | 'createModel' | 'deleteModel' | 'backendUrl' | 'backendHeaders'>;
}

/** The operator's models under /api/admin/models: the listing with owners, metadata, import of a server-side GGUF, delete. */
export function createAdminModelsRouter({ metadata, workspaces, chat }: AdminModelsDeps): Router {
  const router = Router();
  /** The backend's models by key, with what the console shows of each: its file's size and its family. */
  const onBackend = async () => new Map((await chat.models()).map((m) => [modelKey(m.name), { size_bytes: m.size, ...(m.details?.family ? { family: m.details.family } : {}) }]));
  type Present = Awaited<ReturnType<typeof onBackend>>;
  const adminModel = (model: string, present: Present) => {
    const file = present.get(modelKey(model));
    return { id: modelKey(model), ...modelView(metadata.lookup(model)), on_backend: file !== undefined, ...file };
  };

  // Who owns what, and what is set for names the backend lacks: a workspace's registered name
  // the operator has not pulled yet shows here before it hides the operator's model of that name.
  router.get('/models', async (_req, res) => {
    const present = await onBackend();
    const ids = [...new Set([...present.keys(), ...metadata.all().keys()])].sort();
    res.json({ models: ids.map((id) => adminModel(id, present)) });
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
    const { on_backend: _, ...record } = adminModel(req.params.model, new Map());
    res.json(record);
  });

  // What `hearth models import` does, from a file on the daemon's machine. A name in use is
  // refused rather than replaced: on the backend (delete it first), or kept for a workspace
  // (its fine-tuned model's name), which the import would otherwise hand the file to.
  router.post('/models/import', async (req, res) => {
    const b = req.body as { path: string; name: string; adapter_for?: string };
    const name = requireModelName(b.name, 'name');
    const base = b.adapter_for === undefined ? undefined : requireModelName(b.adapter_for, 'adapter_for');
    const present = await onBackend();
    if (present.has(modelKey(name))) throw conflict(`name: a model named '${name}' exists already; delete it first to replace it`, 'model_exists');
    const owner = metadata.lookup(name)?.owner;
    if (owner !== undefined) throw conflict(`name: '${name}' is kept for workspace ${owner}'s model; choose another name, or give it back first (PUT /api/admin/models/{model} with workspace null)`, 'model_name_owned');
    if (base !== undefined && !present.has(modelKey(base))) throw invalidRequest(`adapter_for: the backend has no model '${base}' to put the adapter on`, 'base_model_not_found');
    const file = await checkModelFile(b.path, 'path');
    try {
      await importModelFile({ url: chat.backendUrl, headers: chat.backendHeaders }, { file, name, adapterFor: base }, { create: (request) => chat.createModel(request) });
    } catch (err) {
      if (err instanceof HearthError) throw err;
      // The backend answered the upload with an error: as any other answer of it.
      throw backendError(err instanceof BlobRefused ? new BackendResponseError(err.status, err.message, undefined) : err);
    }
    res.status(201).json(adminModel(name, await onBackend()));
  });

  // The model leaves the backend, and what was set for it goes too, which frees its name; a
  // name only set (on_backend false in the listing) can be deleted the same way.
  router.delete('/models/:model', async (req, res) => {
    const model = requireModelName(req.params.model, 'model');
    let deleted = true;
    try {
      await chat.deleteModel(model);
    } catch (err) {
      if (!(err instanceof HearthError && err.code === 'model_not_found')) throw err;
      deleted = false;
    }
    if (!metadata.remove(model) && !deleted) throw notFound(`model '${model}' not found`, 'model_not_found');
    res.status(204).end();
  });
  return router;
}

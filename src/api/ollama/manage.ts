import { Router, type Response } from 'express';
import { HearthError, invalidRequest } from '../../errors.js';
import type { BackendClient } from '../../backend/backend-client.js';
import type { BackendResponse } from '../../backend/backend-transport.js';
import type { ModelMetadata } from '../../domain/model-metadata.js';
import { clientGoneSignal } from '../../http/lifecycle.js';
import { served, streamStarted } from '../../gateway/guard.js';
import type { BlobProbe, WorkspaceBlobs } from '../../domain/workspace-blobs.js';
import { describeError, type Logger } from '../../log.js';
import { backendFailure, isNdjson, modelNotFound, ndjsonLines, requireVisible } from './relay.js';
import { blobAllowance, ByteLimit, refusalBeforeReading, type BlobBounds } from './blob-upload.js';

// The model-changing routes (scope local_model_access): a workspace acts only on what it owns.
// A model it creates or copies becomes its own (model metadata `owner`, as a fine-tune it
// registers), seen and called by its keys only; it may delete only its own; the operator's
// models and other workspaces' are never overwritten or removed from here.

/**
 * Pull and push are refused on every backend: a pulled model would land in the backend's
 * namespace, which is the operator's (and the bundled engine has no registry at all); a push
 * would publish with the operator's registry credentials.
 */
function refuse(verb: 'pull' | 'push') {
  return (req: { body: unknown }) => {
    const body = (req.body ?? {}) as { model?: unknown; name?: unknown };
    const name = typeof body.model === 'string' ? body.model : typeof body.name === 'string' ? body.name : 'MODEL';
    throw invalidRequest(
      verb === 'pull'
        ? `pulling "${name}" is not offered through Hearth: the server's operator pulls models for everyone; to bring your own, upload its GGUF with POST /ollama/api/blobs/sha256:<digest> and create it with POST /ollama/api/create {"model": "${name}", "files": {"model.gguf": "sha256:<digest>"}}`
        : `pushing "${name}" to a registry is not offered through Hearth`,
      `${verb}_unsupported`,
    );
  };
}

export function createOllamaManageRouter({
  chat,
  metadata,
  blobs,
  blobBounds,
  log,
}: {
  chat: BackendClient;
  metadata: ModelMetadata;
  blobs: WorkspaceBlobs;
  blobBounds: BlobBounds;
  log: Logger;
}): Router {
  const router = Router();
  const workspaceOf = (res: Response) => res.locals.principal!.workspaceId as string;

  /** Whether the backend has it (200) or not (404); any other answer throws. */
  const present = async (r: BackendResponse, failure: (r: BackendResponse) => Promise<Error>) => {
    if (!r.ok && r.status !== 404) throw await failure(r);
    await r.text().catch(() => '');
    return r.ok;
  };
  const onBackend = async (model: string) => present(await chat.forward('POST', '/api/show', { model }), (r) => backendFailure(r, model));
  const blobOnBackend: BlobProbe = async (digest) =>
    present(await chat.forward('HEAD', `/api/blobs/${encodeURIComponent(digest)}`), async (r) => new Error(`the backend answered HEAD /api/blobs/${digest} with ${r.status}`));

  /**
   * Gives the workspace back the quota of its blobs the backend no longer has. Awaited, so that
   * the answer that follows sees the quota as it is; a backend that cannot tell leaves it counted.
   */
  const reconcileBlobs = async (workspaceId: string) => {
    const { released, failed } = await blobs.reconcile(workspaceId, blobOnBackend);
    if (released.length > 0) log.info('blob quota given back', { workspace_id: workspaceId, digests: released });
    if (failed !== undefined) log.warn('blob quota not reconciled: the backend did not say which blobs it still has', { workspace_id: workspaceId, err: describeError(failed) });
  };

  /**
   * A name the workspace may write: its own already, or one nobody has (not on the backend, no
   * operator settings, no other owner). The name is then recorded as its own before the backend
   * writes it, so that no other workspace ever sees the model, even while it is being made.
   */
  const claim = async (model: string, workspaceId: string) => {
    const set = metadata.lookup(model);
    if (set?.owner === workspaceId) return;
    if (set !== undefined || (await onBackend(model))) {
      throw new HearthError('conflict', `model name '${model}' is taken: create or copy to a new name, or to one of your workspace's own models`, { code: 'model_name_taken' });
    }
    metadata.set(model, { owner: workspaceId });
  };

  router.post('/api/pull', refuse('pull'));
  router.post('/api/push', refuse('push'));

  router.post('/api/create', async (req, res) => {
    const body = req.body as Record<string, unknown> & { model?: string; name?: string; from?: string };
    const model = (body.model ?? body.name)!;
    const workspaceId = workspaceOf(res);
    if (body.from !== undefined) requireVisible(metadata, body.from, workspaceId);
    await claim(model, workspaceId);
    const upstream = await chat.forward('POST', '/api/create', { ...body, model }, { signal: clientGoneSignal(res) });
    if (!upstream.ok) throw await backendFailure(upstream, body.from);
    if (!isNdjson(upstream)) {
      res.json(await upstream.json());
      return;
    }
    // Charged once the backend reports success: a create that fails half-way costs nothing.
    streamStarted(res);
    for await (const line of ndjsonLines(upstream.body)) {
      const part = JSON.parse(line) as { status?: unknown; error?: unknown };
      if (typeof part.error === 'string') throw invalidRequest(part.error, 'backend_rejected');
      if (res.destroyed || res.writableEnded) return;
      if (!res.headersSent) {
        res.status(200);
        res.setHeader('Content-Type', 'application/x-ndjson');
      }
      if (part.status === 'success') served(res);
      res.write(`${line}\n`);
    }
    res.end();
  });

  router.post('/api/copy', async (req, res) => {
    const { source, destination } = req.body as { source: string; destination: string };
    const workspaceId = workspaceOf(res);
    requireVisible(metadata, source, workspaceId);
    await claim(destination, workspaceId);
    const upstream = await chat.forward('POST', '/api/copy', { source, destination });
    if (!upstream.ok) throw await backendFailure(upstream, source);
    await upstream.text();
    res.status(200).end();
  });

  router.delete('/api/delete', async (req, res) => {
    const body = req.body as { model?: string; name?: string };
    const model = (body.model ?? body.name)!;
    const workspaceId = workspaceOf(res);
    const set = metadata.lookup(model);
    if (set?.owner !== workspaceId) {
      // Another workspace's model is "not found", as everywhere; the operator's is visible, and refused.
      requireVisible(metadata, model, workspaceId);
      if (!(await onBackend(model))) throw modelNotFound(model);
      throw new HearthError('permission', `model '${model}' is not your workspace's own: only models it created, copied or registered can be deleted`, { code: 'model_not_owned' });
    }
    const upstream = await chat.forward('DELETE', '/api/delete', { model });
    if (!upstream.ok) throw await backendFailure(upstream, model);
    await upstream.text();
    // The backend removed the blobs only this model used: the workspace's quota gets them back.
    await reconcileBlobs(workspaceId);
    // The name stays the workspace's (its metadata row keeps the owner): nobody else takes it over.
    res.status(200).end();
  });

  router.get('/api/blobs/:digest', async (req, res) => {
    const upstream = await chat.forward('HEAD', `/api/blobs/${encodeURIComponent(req.params.digest!)}`);
    res.status(upstream.ok ? 200 : 404).end();
  });

  // Gated before this (blob-upload.ts: one upload per workspace); here, before a byte is read,
  // the size and the workspace's quota, then the body is counted as it streams.
  router.post('/api/blobs/:digest', async (req, res) => {
    const workspaceId = workspaceOf(res);
    const digest = req.params.digest!;
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    const allowanceNow = () => blobAllowance(blobBounds, { usedBytes: blobs.usedBytes(workspaceId), held: blobs.holds(workspaceId, digest) });
    let allowance = allowanceNow();
    // Before the quota refuses or may cut it, the blobs that have left the backend since (an
    // admin's delete, the engine's start-up collection) stop counting.
    if (allowance.quotaBound && !(length !== undefined && length <= allowance.limit)) {
      await reconcileBlobs(workspaceId);
      allowance = allowanceNow();
    }
    const refusal = refusalBeforeReading(allowance, length);
    if (refusal !== undefined) throw refusal;
    const body = new ByteLimit(allowance.limit, () => allowance.refuse());
    // Not pipeline(): a cut body must leave the request (and its socket) open for the 413.
    req.pipe(body);
    body.on('error', () => {
      req.unpipe(body);
      req.pause();
    });
    let r: Awaited<ReturnType<BackendClient['putBlob']>>;
    try {
      r = await chat.putBlob(digest, body, length, clientGoneSignal(res));
    } catch (err) {
      throw body.exceeded ?? err;
    }
    if (body.exceeded !== undefined) throw body.exceeded;
    if (r.status >= 200 && r.status < 300) {
      blobs.record(workspaceId, digest, body.bytes);
      res.status(201).end();
      return;
    }
    let message = r.text;
    try {
      message = (JSON.parse(r.text) as { error?: string }).error ?? r.text;
    } catch {
      // Not JSON: the raw text.
    }
    if (r.status === 400) throw invalidRequest(message, 'invalid_blob');
    if (r.status === 413) throw new HearthError('payload_too_large', message, { code: 'blob_too_large' });
    throw new HearthError('internal', 'the model backend failed to store the blob', { code: 'backend_error', cause: new Error(`${r.status}: ${message}`) });
  });
  return router;
}

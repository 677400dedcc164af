import type { Request, Response } from 'express';
import type { HearthError } from '../errors.js';
import { surfaceOfPath } from '../contract/operations.js';
import type { HearthMetrics } from './registry.js';

// What a finished request adds to the metrics, read from what the guard and the handlers left in
// res.locals (as the access line and the request log read it). Label values only: the route of
// an operation is made once, when the contract is read (Operation.route), and prom-client's
// labels().inc() does the rest.

declare module 'express-serve-static-core' {
  interface Locals {
    /** The route label of a request served outside the contract's surfaces (GET /metrics). */
    metricsRoute?: string;
  }
}

/** Counts a request as its response closes; `started` is performance.now() at its arrival. */
export function observeRequest(m: HearthMetrics, req: Request, res: Response, status: number, started: number): void {
  const op = res.locals.operation;
  // A path under a surface that is no operation was refused before it got one: its surface still counts it.
  const surface = op?.surface.prefix ?? surfaceOfPath(req.originalUrl.split('?', 1)[0] ?? '')?.prefix ?? 'none';
  const route = op === undefined ? (res.locals.metricsRoute ?? 'unmatched') : op.route;
  const workspace = res.locals.principal?.workspaceName ?? '';
  m.requests.labels(surface, route, String(status), workspace).inc();
  m.requestDuration.labels(surface, route).observe((performance.now() - started) / 1000);
  const charged = res.locals.charged;
  if (charged !== undefined && charged > 0) m.creditsCharged.labels(workspace).inc(charged);
  const { tokens, firstTokenAt } = res.locals;
  // Only a call the backend served names a model (model-labels.ts).
  if (op?.inference !== true || (tokens === undefined && firstTokenAt === undefined)) return;
  const model = m.models.of(res.locals.modelKey);
  if (tokens !== undefined) {
    if (tokens.input > 0) m.promptTokens.labels(model, workspace).inc(tokens.input);
    if (tokens.output > 0) m.completionTokens.labels(model, workspace).inc(tokens.output);
  }
  if (firstTokenAt !== undefined) m.timeToFirstToken.labels(surface, model).observe((firstTokenAt - started) / 1000);
}

/** Errors that refuse a call for a limit rather than for what it asked, besides the rate_limited and insufficient_quota kinds. */
const LIMIT_CODES: ReadonlySet<string> = new Set(['backend_busy', 'uploads_busy', 'blob_uploads_busy', 'queue_full', 'workspace_queue_full', 'dataset_quota_exceeded', 'blob_quota_exceeded']);

/** Counts a refusal by a rate limit, a quota or a full queue; other errors are the requests counter's status alone. */
export function observeRefusal(m: HearthMetrics, res: Response, e: HearthError): void {
  if (e.kind !== 'rate_limited' && e.kind !== 'insufficient_quota' && !LIMIT_CODES.has(e.code ?? '')) return;
  m.refusals.labels(e.code ?? e.kind, res.locals.principal?.workspaceName ?? '').inc();
}

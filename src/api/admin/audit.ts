import { Router, type Request, type RequestHandler, type Response } from 'express';
import { redactSecrets, type AuditEntry, type AuditLog, type NewAuditEntry } from '../../domain/audit-log.js';
import type { OperationMatcher } from '../../contract/operation-matcher.js';
import { beforeHeaders } from '../../http/before-headers.js';
import { describeError, type Logger } from '../../log.js';

/** What every entry of a request says the same way: where from, and which operation. */
export function entryOf(req: Request, res: Response): Pick<NewAuditEntry, 'source' | 'action' | 'method' | 'path'> {
  const op = res.locals.operation!;
  return { source: req.socket.remoteAddress ?? '', action: op.operationId, method: op.method, path: op.path };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Records every change made through /api/admin that succeeded: a request other than GET or HEAD,
 * authenticated (res.locals.admin, which the sign-in sets too), answered 2xx. The entry is
 * written as the status is decided, before any byte of the answer leaves, so a client that has
 * its answer finds the entry; the response itself is never read (a key's create and rotate
 * answers hold its secret), only the request body, redacted.
 */
export function recordAdminChanges({ audit, matcher, log }: { audit: AuditLog; matcher: OperationMatcher; log: Logger }): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    beforeHeaders(res, (status) => {
      const actor = res.locals.admin?.actor;
      if (status < 200 || status >= 300 || actor === undefined || res.locals.operation === undefined) return;
      // The path as sent, so the parameters come out as the guard found them, decoded once.
      const resolved = matcher.resolve(req.method, req.originalUrl.split('?', 1)[0]!);
      const body = redactSecrets(req.body);
      try {
        audit.append({ ...entryOf(req, res), actor, target: resolved.kind === 'operation' ? resolved.params : {}, details: isObject(body) ? body : {} });
      } catch (err) {
        // The change is made and its answer is due: the failure is the log's to tell.
        log.error('audit entry not written', { request_id: res.locals.requestId, action: res.locals.operation.operationId, actor, err: describeError(err) });
      }
    });
    next();
  };
}

const entryView = (e: AuditEntry) => ({
  id: e.id,
  at: e.at.toISOString(),
  actor: e.actor,
  source: e.source,
  action: e.action,
  method: e.method,
  path: e.path,
  target: e.target,
  details: e.details,
});

/** GET /api/admin/audit: the log, newest first, a page at a time (`before`: the last id seen). */
export function createAuditRouter({ audit }: { audit: AuditLog }): Router {
  const router = Router();
  router.get('/audit', (req, res) => {
    // The contract has checked both (whole numbers in range); the validator may have made them numbers already.
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    const before = req.query.before === undefined ? undefined : Number(req.query.before);
    res.json({ entries: audit.list({ limit, before }).map(entryView) });
  });
  return router;
}

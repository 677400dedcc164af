import type { RequestHandler } from 'express';
import { HearthError } from '../errors.js';
import type { Keys, VerifyResult } from '../domain/keys.js';
import { RateLimiter } from './rate-limiter.js';
import type { Principal } from './principal.js';

const bearer = /^Bearer\s+(\S+)\s*$/i;

const refusal: Record<string, string> = {
  malformed: 'invalid API key',
  unknown: 'invalid API key',
  revoked: 'this API key has been revoked',
  expired: 'this API key has expired',
};

/**
 * Verifies the key (X-API-Key or Authorization: Bearer), applies the key's per-minute rate
 * limit and sets the X-RateLimit-* headers every authenticated response carries.
 */
/** The caller a verified key makes: its key, its workspace, and what the workspace's plan allows. */
export function principalOf(v: Extract<VerifyResult, { ok: true }>): Principal {
  return {
    keyId: v.record.id,
    keyName: v.record.name,
    workspaceId: v.workspace.id,
    workspaceName: v.workspace.name,
    planId: v.plan.id,
    planTitle: v.plan.title,
    scopes: v.scopes,
    rpm: v.plan.rpm,
    maxConcurrent: v.plan.maxConcurrent,
    weight: v.plan.weight,
  };
}

export function authenticate({ keys, limiter, now = Date.now }: { keys: Keys; limiter: RateLimiter; now?: () => number }): RequestHandler {
  return (req, res, next) => {
    const header = req.get('x-api-key') ?? bearer.exec(req.get('authorization') ?? '')?.[1];
    if (!header) {
      throw new HearthError('authentication', 'missing API key: send it as X-API-Key or Authorization: Bearer <key>', { code: 'missing_api_key' });
    }
    const v = keys.verify(header);
    if (!v.ok) throw new HearthError('authentication', refusal[v.reason] ?? 'invalid API key', { code: `${v.reason === 'malformed' || v.reason === 'unknown' ? 'invalid' : v.reason}_api_key` });
    const principal = principalOf(v);
    res.locals.principal = principal;
    const d = limiter.take(principal.keyId, principal.rpm);
    res.setHeader('X-RateLimit-Limit', String(d.limit));
    res.setHeader('X-RateLimit-Remaining', String(d.remaining));
    res.setHeader('X-RateLimit-Reset', String(d.resetS));
    if (!d.allowed) throw RateLimiter.exceeded(d, now());
    keys.touch(principal.keyId);
    next();
  };
}

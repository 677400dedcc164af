import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { HearthError } from '../../errors.js';

/** What a request presents: the admin token, no Bearer token at all, or another one. */
export type AdminPresented = 'admin' | 'missing' | 'invalid';

/**
 * The operator's admin token, checked in constant time. Only its HMAC is kept in memory, so a
 * heap dump does not hand out the token itself. Never throws: requireAdmin turns the answer into
 * a 401, GET /api/v1/health into more detail.
 */
export function adminTokenCheck(token: string): (req: Request) => AdminPresented {
  const salt = Buffer.from('hearth-admin-token');
  const expected = createHmac('sha256', salt).update(token).digest();
  return (req) => {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!presented) return 'missing';
    const digest = createHmac('sha256', salt).update(presented).digest();
    return timingSafeEqual(digest, expected) ? 'admin' : 'invalid';
  };
}

export function requireAdmin(token: string): RequestHandler {
  const check = adminTokenCheck(token);
  return (req, _res, next) => {
    const presented = check(req);
    if (presented === 'missing') throw new HearthError('authentication', 'missing admin token: send Authorization: Bearer <admin token>', { code: 'missing_admin_token' });
    if (presented === 'invalid') throw new HearthError('authentication', 'invalid admin token', { code: 'invalid_admin_token' });
    next();
  };
}

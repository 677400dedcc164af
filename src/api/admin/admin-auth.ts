import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HearthError } from '../../errors.js';

/**
 * The operator's admin token, checked in constant time. Only its HMAC is kept in memory, so a
 * heap dump does not hand out the token itself.
 */
export function requireAdmin(token: string): RequestHandler {
  const salt = Buffer.from('hearth-admin-token');
  const expected = createHmac('sha256', salt).update(token).digest();
  return (req, _res, next) => {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!presented) throw new HearthError('authentication', 'missing admin token: send Authorization: Bearer <admin token>', { code: 'missing_admin_token' });
    const digest = createHmac('sha256', salt).update(presented).digest();
    if (!timingSafeEqual(digest, expected)) throw new HearthError('authentication', 'invalid admin token', { code: 'invalid_admin_token' });
    next();
  };
}

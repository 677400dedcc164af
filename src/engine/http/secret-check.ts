import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HearthError } from '../../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Refuses every request that does not carry `Authorization: Bearer <secret>`: 401 in Ollama's
 * shape (OpenAI's under /v1), before any route, body or model is looked at. The tokens are
 * compared as SHA-256 digests with timingSafeEqual: equal lengths, and no early exit that would
 * let a local process learn the secret a byte at a time from response times.
 */
export function requireEngineSecret(secret: string): RequestHandler {
  const expected = digest(secret);
  return (req, res, next) => {
    const presented = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return next();
    res.setHeader('WWW-Authenticate', 'Bearer');
    // A refused upload's body is never read: end the connection rather than drain gigabytes.
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.setHeader('Connection', 'close');
    throw new HearthError('authentication', 'unauthorized', { code: 'unauthorized' });
  };
}

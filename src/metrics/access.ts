import type { Request, RequestHandler } from 'express';
import { HearthError } from '../errors.js';
import { adminTokenMatcher, clientKeyOf } from '../api/admin/admin-auth.js';
import type { SignInLockout } from '../gateway/sign-in-lockout.js';

export interface MetricsAccessOptions {
  adminToken: string;
  metricsToken: string;
  /** metrics.open_on_loopback. */
  openOnLoopback: boolean;
  /** The admin API's count of wrong tokens per client address: a wrong token here is one more. */
  lockout: SignInLockout;
}

const bearer = /^Bearer\s+(\S+)\s*$/i;

/** Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever its socket says. */
const FORWARDED = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const;

/** Whether the request comes from a process on this machine itself, not through a proxy on it. */
export function fromLocalScraper(req: Request): boolean {
  const address = req.socket.remoteAddress ?? '';
  const loopback = address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
  return loopback && FORWARDED.every((h) => req.headers[h] === undefined);
}

/**
 * Who may read GET /metrics: `Authorization: Bearer` with the metrics token or the admin token,
 * each compared in constant time through its HMAC (neither is kept in memory as it is); without
 * a token, only a local scraper and only when metrics.open_on_loopback says so. A token that is
 * neither counts against the client's address as a wrong admin token does, and while the
 * address must wait no token of it is looked at. The right admin token clears the count; the
 * metrics token does not, since whoever holds it (Prometheus's config) could otherwise reset the
 * count between guesses at the admin token.
 */
export function metricsAccess(o: MetricsAccessOptions): RequestHandler {
  const isAdmin = adminTokenMatcher(o.adminToken);
  const isMetrics = adminTokenMatcher(o.metricsToken);
  return (req, _res, next) => {
    const presented = bearer.exec(req.get('authorization') ?? '')?.[1];
    if (presented === undefined) {
      if (o.openOnLoopback && fromLocalScraper(req)) return next();
      throw new HearthError('authentication', 'missing token: send Authorization: Bearer <metrics token> (see metrics.token_file) or the admin token', { code: 'missing_metrics_token' });
    }
    const client = clientKeyOf(req);
    o.lockout.check(client);
    // Both compared, whichever matches: the time taken tells nothing of which one did.
    const admin = isAdmin(presented);
    const metrics = isMetrics(presented);
    if (admin) o.lockout.succeeded(client);
    else if (!metrics) {
      o.lockout.failed(client);
      throw new HearthError('authentication', 'invalid token: GET /metrics takes the metrics token (see metrics.token_file) or the admin token', { code: 'invalid_metrics_token' });
    }
    next();
  };
}

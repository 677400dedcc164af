import { Router, type Request, type Response } from 'express';
import { HearthError } from '../../errors.js';
import { sessionActor, type AdminSession, type AdminSessions } from '../../domain/admin-sessions.js';
import type { AuditLog } from '../../domain/audit-log.js';
import type { SignInLockout } from '../../gateway/sign-in-lockout.js';
import { adminTokenMatcher, clientKeyOf, originAllowed, sessionOf, SESSION_COOKIE } from './admin-auth.js';
import { entryOf } from './audit.js';

export interface SessionDeps {
  adminToken: string;
  sessions: AdminSessions;
  lockout: SignInLockout;
  audit: AuditLog;
  /** "" when unset; an https one makes the cookie Secure. */
  publicBaseUrl: string;
}

/**
 * Secure when the browser reached the daemon over TLS: the daemon itself speaks plain HTTP, so
 * that is when it is reached through a TLS proxy, which public_base_url (https://…) declares.
 * No X-Forwarded-Proto is believed: the daemon has no setting saying which proxy to trust.
 */
const secureCookie = (req: Request, publicBaseUrl: string): boolean => req.secure || publicBaseUrl.startsWith('https://');

function setSessionCookie(req: Request, res: Response, value: string, maxAgeS: number, publicBaseUrl: string): void {
  const attributes = [`${SESSION_COOKIE}=${value}`, 'HttpOnly', 'SameSite=Strict', 'Path=/', `Max-Age=${maxAgeS}`];
  if (secureCookie(req, publicBaseUrl)) attributes.push('Secure');
  res.setHeader('Set-Cookie', attributes.join('; '));
}

/**
 * The console's sign-in (src/console): POST trades the admin token for a session cookie and the
 * session's CSRF token; GET gives the CSRF token again (a reloaded page); DELETE signs out, on
 * the server, so a copy of the cookie is worth nothing after.
 */
export function createSessionRouter(deps: SessionDeps): Router {
  const { sessions, lockout, audit, publicBaseUrl } = deps;
  const isAdminToken = adminTokenMatcher(deps.adminToken);
  const view = (id: string, s: AdminSession) => ({ expires_at: s.expiresAt.toISOString(), csrf_token: sessions.csrfToken(id) });
  const router = Router();

  router.post('/session', (req, res) => {
    if (!originAllowed(req, publicBaseUrl)) throw new HearthError('permission', `the Origin header (${req.get('origin')}) is not this daemon's; sign in from the console's own page`, { code: 'csrf_failed' });
    const client = clientKeyOf(req);
    // A try while the address must wait is refused unread, and not logged: the waits bound how
    // many refused sign-ins an address can add to the audit log.
    lockout.check(client);
    const { token } = req.body as { token: string };
    if (!isAdminToken(token)) {
      lockout.failed(client);
      audit.append({ ...entryOf(req, res), actor: 'anonymous', target: {}, details: { refused: 'invalid_admin_token' } });
      throw new HearthError('authentication', 'invalid admin token', { code: 'invalid_admin_token', param: 'token' });
    }
    lockout.succeeded(client);
    const { id, session } = sessions.create();
    // The audit entry of the sign-in (recordAdminChanges) names the new session.
    res.locals.admin = { actor: sessionActor(session), session: { id, record: session } };
    setSessionCookie(req, res, id, Math.round((session.expiresAt.getTime() - session.createdAt.getTime()) / 1000), publicBaseUrl);
    res.json(view(id, session));
  });

  router.get('/session', (_req, res) => {
    const { id, record } = sessionOf(res);
    res.json(view(id, record));
  });

  // The cookie's X-CSRF-Token was checked by the authenticator, as for every change.
  router.delete('/session', (req, res) => {
    const { id } = sessionOf(res);
    sessions.end(id);
    setSessionCookie(req, res, '', 0, publicBaseUrl);
    res.status(204).end();
  });

  return router;
}

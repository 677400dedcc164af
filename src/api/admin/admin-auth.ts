import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { HearthError } from '../../errors.js';
import { sessionActor, type AdminSession, type AdminSessions } from '../../domain/admin-sessions.js';
import type { SignInLockout } from '../../gateway/sign-in-lockout.js';
import { clientOf } from '../../http/connection-limits.js';

/** What a request presents: the admin token, no Bearer token at all, or another one. */
export type AdminPresented = 'admin' | 'missing' | 'invalid';

/** The console's session cookie. */
export const SESSION_COOKIE = 'hearth_session';

/** Who is calling /api/admin, once authenticated: for the audit log, and for the session routes. */
export interface AdminCaller {
  /** "admin-token" or "session:<8 hex of the session's hash>". */
  actor: string;
  /** With the cookie: the session and its id (the cookie's value). */
  session?: { id: string; record: AdminSession };
}

declare module 'express-serve-static-core' {
  interface Locals {
    admin?: AdminCaller;
  }
}

/**
 * Whether a string is the operator's admin token, in constant time. Only its HMAC is kept in
 * memory, so a heap dump does not hand out the token itself.
 */
export function adminTokenMatcher(token: string): (presented: string) => boolean {
  const salt = Buffer.from('hearth-admin-token');
  const expected = createHmac('sha256', salt).update(token).digest();
  return (presented) => timingSafeEqual(createHmac('sha256', salt).update(presented).digest(), expected);
}

/** What `Authorization: Bearer` presents. Never throws: GET /api/v1/health turns the answer into more detail. */
export function adminTokenCheck(token: string): (req: Request) => AdminPresented {
  const matches = adminTokenMatcher(token);
  return (req) => {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!presented) return 'missing';
    return matches(presented) ? 'admin' : 'invalid';
  };
}

/** The session id a request's Cookie header carries, if any. */
export function sessionCookieOf(req: Request): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/** The lock-out's key for a request: its address (an IPv6 /64), as the connection limits count it. */
export const clientKeyOf = (req: Request): string => clientOf(req.socket.remoteAddress ?? '');

/**
 * Whether an Origin header, when the browser sent one, is this daemon's own: the origin of
 * public_base_url, or the host the request was addressed to (either scheme, since a TLS proxy in
 * front makes the browser's https the daemon's http). A page elsewhere gets its own origin here.
 */
export function originAllowed(req: Request, publicBaseUrl: string): boolean {
  const origin = req.get('origin');
  if (origin === undefined) return true;
  if (publicBaseUrl !== '' && origin === new URL(publicBaseUrl).origin) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === (req.get('host') ?? '').toLowerCase();
}

const csrfFailed = (message: string) => new HearthError('permission', message, { code: 'csrf_failed' });

/** A cookie-authenticated change must come from the console's own page: its origin, and the session's CSRF token. */
export function checkChangeFromConsole(req: Request, sessions: AdminSessions, sessionId: string, publicBaseUrl: string): void {
  if (!originAllowed(req, publicBaseUrl)) throw csrfFailed(`the Origin header (${req.get('origin')}) is not this daemon's; changes with the session cookie come from the console's own page`);
  if (!sessions.csrfMatches(sessionId, req.get('x-csrf-token'))) {
    throw csrfFailed('missing or wrong X-CSRF-Token header: a change made with the session cookie needs the csrf_token of POST or GET /api/admin/session');
  }
}

export interface AdminAuthDeps {
  token: string;
  sessions: AdminSessions;
  lockout: SignInLockout;
  /** "" when unset. */
  publicBaseUrl: string;
}

/**
 * The admin surface's authenticator: `Authorization: Bearer <admin token>`, or the console's
 * session cookie. A wrong Bearer token counts against the client's address like a wrong sign-in,
 * and while the address must wait no token of it is looked at. With the cookie, every method
 * but GET and HEAD also needs the session's X-CSRF-Token and no foreign Origin (SameSite=Strict
 * already keeps the cookie off other sites' requests; this holds where a browser does not).
 */
export function requireAdmin(deps: AdminAuthDeps): RequestHandler {
  const check = adminTokenCheck(deps.token);
  return (req, res, next) => {
    const presented = check(req);
    if (presented !== 'missing') {
      const client = clientKeyOf(req);
      deps.lockout.check(client);
      if (presented === 'invalid') {
        deps.lockout.failed(client);
        throw new HearthError('authentication', 'invalid admin token', { code: 'invalid_admin_token' });
      }
      deps.lockout.succeeded(client);
      res.locals.admin = { actor: 'admin-token' };
      return next();
    }
    const id = sessionCookieOf(req);
    if (id === undefined) {
      throw new HearthError('authentication', 'missing admin token: send Authorization: Bearer <admin token>, or sign in to the console (POST /api/admin/session)', {
        code: 'missing_admin_token',
      });
    }
    const found = deps.sessions.find(id);
    if (!found.ok) {
      throw found.reason === 'expired'
        ? new HearthError('authentication', 'the console session has expired: sign in again', { code: 'session_expired' })
        : new HearthError('authentication', 'no such console session (signed out, or ended by newer sign-ins): sign in again', { code: 'invalid_session' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') checkChangeFromConsole(req, deps.sessions, id, deps.publicBaseUrl);
    res.locals.admin = { actor: sessionActor(found.session), session: { id, record: found.session } };
    next();
  };
}

/** The caller's session, for the operations that are about it (GET and DELETE /api/admin/session). */
export function sessionOf(res: Response): { id: string; record: AdminSession } {
  const session = res.locals.admin?.session;
  if (session === undefined) throw new HearthError('authentication', 'this operation needs the console session cookie (sign in with POST /api/admin/session)', { code: 'missing_session' });
  return session;
}

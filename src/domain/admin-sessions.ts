import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { Clock } from './clock.js';

/** A signed-in console session, as stored: never its id, only the id's hash. */
export interface AdminSession {
  /** SHA-256 of the id, hex. */
  idHash: string;
  createdAt: Date;
  expiresAt: Date;
}

export type SessionLookup = { ok: true; session: AdminSession } | { ok: false; reason: 'unknown' | 'expired' };

export interface AdminSessionsOptions {
  /** Milliseconds from sign-in to expiry (console.session_ttl). */
  ttlMs: number;
  /** Sessions alive at once (console.max_sessions); a sign-in past it ends the oldest. */
  maxLive: number;
}

interface Row {
  id_hash: string;
  created_at: string;
  expires_at: string;
}

const hashOf = (id: string): string => createHash('sha256').update(id).digest('hex');
const sessionOf = (r: Row): AdminSession => ({ idHash: r.id_hash, createdAt: new Date(r.created_at), expiresAt: new Date(r.expires_at) });

/** What the audit log calls a session's holder: enough to tell sessions apart, too little to find one. */
export const sessionActor = (s: AdminSession): string => `session:${s.idHash.slice(0, 8)}`;

/**
 * The console's sign-in sessions (admin_sessions). The id is 32 random bytes, handed out once
 * (in the cookie) and kept only as its hash; expiry is checked here, on the server, whatever the
 * browser does with its cookie. The CSRF token of a session is an HMAC of its id under a key
 * derived from the server secret: nothing to store, the same after a restart, and no one
 * without the secret can make one for a cookie they have seen.
 */
export class AdminSessions {
  private readonly stmts;
  private readonly csrfKey: Buffer;

  constructor(
    db: Database,
    private readonly clock: Clock,
    private readonly options: AdminSessionsOptions,
    serverSecret: Buffer,
  ) {
    this.csrfKey = createHmac('sha256', serverSecret).update('hearth-console-csrf').digest();
    this.stmts = {
      insert: db.prepare<[string, string, string]>('INSERT INTO admin_sessions (id_hash, created_at, expires_at) VALUES (?, ?, ?)'),
      get: db.prepare<[string], Row>('SELECT id_hash, created_at, expires_at FROM admin_sessions WHERE id_hash = ?'),
      remove: db.prepare<[string]>('DELETE FROM admin_sessions WHERE id_hash = ?'),
      removeExpired: db.prepare<[string]>('DELETE FROM admin_sessions WHERE expires_at <= ?'),
      // The newest maxLive - 1 stay, so that the one about to be made is the maxLive-th.
      removeOldest: db.prepare<[number]>(
        'DELETE FROM admin_sessions WHERE id_hash NOT IN (SELECT id_hash FROM admin_sessions ORDER BY created_at DESC, rowid DESC LIMIT ?)',
      ),
      live: db.prepare<[], Row>('SELECT id_hash, created_at, expires_at FROM admin_sessions ORDER BY created_at, rowid'),
    };
    this.create = db.transaction(this.create.bind(this));
  }

  /** A new session: its id (for the cookie only) and what is stored of it. */
  create(): { id: string; session: AdminSession } {
    const now = this.clock.now();
    this.stmts.removeExpired.run(now.toISOString());
    this.stmts.removeOldest.run(Math.max(0, this.options.maxLive - 1));
    const id = randomBytes(32).toString('base64url');
    const session: AdminSession = { idHash: hashOf(id), createdAt: now, expiresAt: new Date(now.getTime() + this.options.ttlMs) };
    this.stmts.insert.run(session.idHash, session.createdAt.toISOString(), session.expiresAt.toISOString());
    return { id, session };
  }

  /** The session of a cookie's id; an expired one is removed as it is found. */
  find(id: string): SessionLookup {
    const hash = hashOf(id);
    const row = this.stmts.get.get(hash);
    if (row === undefined) return { ok: false, reason: 'unknown' };
    const session = sessionOf(row);
    if (session.expiresAt.getTime() <= this.clock.now().getTime()) {
      this.stmts.remove.run(hash);
      return { ok: false, reason: 'expired' };
    }
    return { ok: true, session };
  }

  /** Signs a session out; false when there was none. */
  end(id: string): boolean {
    return this.stmts.remove.run(hashOf(id)).changes > 0;
  }

  /** The sessions not yet expired, oldest first. */
  live(): AdminSession[] {
    const now = this.clock.now().getTime();
    return this.stmts.live.all().map(sessionOf).filter((s) => s.expiresAt.getTime() > now);
  }

  csrfToken(id: string): string {
    return createHmac('sha256', this.csrfKey).update(id).digest('base64url');
  }

  /** Whether `presented` is the CSRF token of session `id`, compared in constant time. */
  csrfMatches(id: string, presented: string | undefined): boolean {
    if (presented === undefined) return false;
    const expected = Buffer.from(this.csrfToken(id));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AdminSessions, sessionActor } from '../../src/domain/admin-sessions.js';
import { openDatabase } from '../../src/db/database.js';
import { join } from 'node:path';
import { openDomain, tempDir, TEST_SECRET, type Domain } from '../helpers/domain-db.js';

const HOUR = 3600_000;

describe('AdminSessions', () => {
  let d: Domain;
  let sessions: AdminSessions;
  beforeEach(() => {
    d = openDomain();
    sessions = new AdminSessions(d.db, d.clock, { ttlMs: 12 * HOUR, maxLive: 3 }, TEST_SECRET);
  });
  afterEach(() => d.close());

  it('hands out a random 32-byte id once and stores only its hash', () => {
    const a = sessions.create();
    const b = sessions.create();
    assert.match(a.id, /^[A-Za-z0-9_-]{43}$/, '32 bytes, base64url');
    assert.notEqual(a.id, b.id);
    assert.match(a.session.idHash, /^[0-9a-f]{64}$/);
    assert.equal(sessionActor(a.session), `session:${a.session.idHash.slice(0, 8)}`);
    d.db.pragma('wal_checkpoint(TRUNCATE)');
    const file = readFileSync(d.path).toString('latin1');
    assert.ok(file.includes(a.session.idHash), 'the hash is in the file');
    assert.ok(!file.includes(a.id) && !file.includes(b.id), 'the id is not');
  });

  it('a session lasts its ttl, checked on the server with the clock, and is removed once expired', () => {
    const { id, session } = sessions.create();
    assert.equal(session.expiresAt.toISOString(), '2025-03-16T00:00:00.000Z');
    d.clock.advance(12 * HOUR - 1);
    assert.equal(sessions.find(id).ok, true);
    d.clock.advance(1);
    assert.deepEqual(sessions.find(id), { ok: false, reason: 'expired' });
    assert.deepEqual(sessions.find(id), { ok: false, reason: 'unknown' }, 'the expired row is gone');
    assert.equal(d.db.prepare('SELECT count(*) FROM admin_sessions').pluck().get(), 0);
  });

  it('signing out ends the session for every copy of its id', () => {
    const { id } = sessions.create();
    const other = sessions.create();
    assert.equal(sessions.end(id), true);
    assert.deepEqual(sessions.find(id), { ok: false, reason: 'unknown' });
    assert.equal(sessions.end(id), false);
    assert.equal(sessions.find(other.id).ok, true, 'other sessions stay');
    assert.deepEqual(sessions.find('not-a-session'), { ok: false, reason: 'unknown' });
  });

  it('holds at most maxLive sessions: a sign-in past it ends the oldest', () => {
    const made = [0, 1, 2, 3].map(() => {
      d.clock.advance(1000);
      return sessions.create();
    });
    assert.equal(sessions.find(made[0]!.id).ok, false);
    for (const m of made.slice(1)) assert.equal(sessions.find(m.id).ok, true);
    assert.deepEqual(sessions.live().map((s) => s.idHash), made.slice(1).map((m) => m.session.idHash));
  });

  it('expired sessions do not count against the bound', () => {
    const old = [sessions.create(), sessions.create()];
    d.clock.advance(12 * HOUR);
    const fresh = [sessions.create(), sessions.create(), sessions.create()];
    for (const m of old) assert.equal(sessions.find(m.id).ok, false);
    for (const m of fresh) assert.equal(sessions.find(m.id).ok, true);
  });

  it('sessions survive a restart: another instance on the reopened file finds them', () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'hearth.db');
      const first = openDatabase(path);
      const before = new AdminSessions(first, d.clock, { ttlMs: 12 * HOUR, maxLive: 3 }, TEST_SECRET);
      const { id } = before.create();
      const csrf = before.csrfToken(id);
      first.close();
      const db = openDatabase(path);
      const after = new AdminSessions(db, d.clock, { ttlMs: 12 * HOUR, maxLive: 3 }, TEST_SECRET);
      assert.equal(after.find(id).ok, true);
      assert.equal(after.csrfToken(id), csrf, 'the CSRF token is derived, not stored: the same after a restart');
      db.close();
    } finally {
      cleanup();
    }
  });
});

describe('CSRF tokens', () => {
  let d: Domain;
  let sessions: AdminSessions;
  beforeEach(() => {
    d = openDomain();
    sessions = new AdminSessions(d.db, d.clock, { ttlMs: HOUR, maxLive: 8 }, TEST_SECRET);
  });
  afterEach(() => d.close());

  it("match their own session only, and nothing else", () => {
    const a = sessions.create();
    const b = sessions.create();
    const token = sessions.csrfToken(a.id);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(sessions.csrfMatches(a.id, token), true);
    assert.equal(sessions.csrfMatches(b.id, token), false, "another session's token");
    assert.equal(sessions.csrfMatches(a.id, undefined), false);
    assert.equal(sessions.csrfMatches(a.id, ''), false);
    assert.equal(sessions.csrfMatches(a.id, token.slice(1)), false, 'a shorter one');
    assert.equal(sessions.csrfMatches(a.id, `${token}x`), false, 'a longer one');
    const flipped = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    assert.equal(sessions.csrfMatches(a.id, flipped), false, 'one character changed');
    assert.equal(sessions.csrfMatches(a.id, a.id), false, 'the session id is not its token');
  });

  it('depend on the server secret', () => {
    const { id } = sessions.create();
    const elsewhere = new AdminSessions(d.db, d.clock, { ttlMs: HOUR, maxLive: 8 }, Buffer.alloc(32, 9));
    assert.notEqual(elsewhere.csrfToken(id), sessions.csrfToken(id));
  });
});

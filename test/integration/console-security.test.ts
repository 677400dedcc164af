// The console's sign-in on a real daemon: the session cookie and its flags, CSRF on changes, the
// server-side sign-out and expiry, the lock-out of wrong admin tokens, and the audit log, which
// must never hold a secret (checked in its answers and in the database file's bytes).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import type { AuditEntry as DomainAuditEntry } from '../../src/domain/audit-log.js';

type ErrorBody = { error: { message: string; type: string; code: string } };
/** An entry as GET /api/admin/audit answers it: the domain's, its date as text. */
type AuditEntry = Omit<DomainAuditEntry, 'at'> & { at: string };
interface Reply<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: T;
}

/** One request over node:http, from `localAddress` when given (another loopback address is another client). */
function call<T = unknown>(base: string, method: string, path: string, o: { headers?: Record<string, string>; body?: unknown; localAddress?: string } = {}): Promise<Reply<T>> {
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method, headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers }, ...(o.localAddress ? { localAddress: o.localAddress } : {}) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text, body: (text === '' ? undefined : JSON.parse(text)) as T }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The cookie's attributes, by lower-case name ('' for a flag). */
function cookieOf(reply: Reply): { value: string; attrs: Record<string, string> } {
  const header = reply.headers['set-cookie'];
  assert.ok(Array.isArray(header) && header.length === 1, `one Set-Cookie: ${JSON.stringify(header)}`);
  const [pair, ...rest] = header[0]!.split(';').map((s) => s.trim());
  const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
  assert.equal(name, 'hearth_session');
  return { value, attrs: Object.fromEntries(rest.map((a) => [a.split('=')[0]!.toLowerCase(), a.split('=')[1] ?? ''])) };
}

interface Session {
  cookie: string;
  csrf: string;
  expiresAt: string;
  reply: Reply<{ expires_at: string; csrf_token: string }>;
}

async function signIn(base: string, token: string, localAddress?: string): Promise<Session> {
  const reply = await call<{ expires_at: string; csrf_token: string }>(base, 'POST', '/api/admin/session', { body: { token }, localAddress });
  assert.equal(reply.status, 200, reply.text);
  return { cookie: `hearth_session=${cookieOf(reply).value}`, csrf: reply.body.csrf_token, expiresAt: reply.body.expires_at, reply };
}

/** Whether this box lets a client use 127.0.0.2 as its address (Linux routes all of 127/8 to lo). */
async function loopbackAliases(base: string): Promise<boolean> {
  try {
    await call(base, 'GET', '/api/v1/health', { localAddress: '127.0.0.2' });
    return true;
  } catch {
    return false;
  }
}

describe('console sign-in, CSRF, lock-out and audit', () => {
  let d: DaemonProcess;
  let base: string;
  let session: Session;
  // The test's own, so that it outlives the first daemon for the restart.
  let dataDir: string;
  const auditOf = async (query = '?limit=500') => {
    const r = await call<{ entries: AuditEntry[] }>(base, 'GET', `/api/admin/audit${query}`, { headers: { authorization: `Bearer ${d.adminToken}` } });
    assert.equal(r.status, 200, r.text);
    return r;
  };
  const withCookie = (s: Session, extra: Record<string, string> = {}) => ({ cookie: s.cookie, ...extra });

  before(async () => {
    // A long first wait: the lock-out tests' tries must land inside it however slow the box is.
    dataDir = await mkdtemp(join(tmpdir(), 'hearth-console-'));
    d = await startDaemonProcess({ dataDir, configYaml: 'console:\n  lockout_delay: 10m\n  lockout_max: 1h\n' });
    base = d.url;
  });
  after(async () => {
    await d?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('sign-in sets an HttpOnly, SameSite=Strict session cookie for the whole site, for the session ttl', async () => {
    session = await signIn(base, d.adminToken);
    const { value, attrs } = cookieOf(session.reply);
    assert.match(value, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(attrs.httponly, '');
    assert.equal(attrs.samesite, 'Strict');
    assert.equal(attrs.path, '/');
    assert.equal(attrs['max-age'], String(12 * 3600));
    assert.equal(attrs.secure, undefined, 'plain HTTP, and no https public_base_url');
    const lasts = Date.parse(session.expiresAt) - Date.now();
    assert.ok(lasts > 11 * 3600_000 && lasts <= 12 * 3600_000, session.expiresAt);
    assert.match(session.csrf, /^[A-Za-z0-9_-]{43}$/);
  });

  test('the cookie reads the admin API and its own session; Bearer alone does not make a session', async () => {
    const listed = await call<{ workspaces: unknown[] }>(base, 'GET', '/api/admin/workspaces', { headers: withCookie(session) });
    assert.equal(listed.status, 200, listed.text);
    assert.ok(Array.isArray(listed.body.workspaces));
    const mine = await call<{ expires_at: string; csrf_token: string }>(base, 'GET', '/api/admin/session', { headers: withCookie(session) });
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body, { expires_at: session.expiresAt, csrf_token: session.csrf });
    const bearer = await call<ErrorBody>(base, 'GET', '/api/admin/session', { headers: { authorization: `Bearer ${d.adminToken}` } });
    assert.equal(bearer.status, 401);
    assert.equal(bearer.body.error.code, 'missing_session');
    const none = await call<ErrorBody>(base, 'GET', '/api/admin/workspaces');
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'missing_admin_token');
    const forged = await call<ErrorBody>(base, 'GET', '/api/admin/workspaces', { headers: { cookie: `hearth_session=${'A'.repeat(43)}` } });
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error.code, 'invalid_session');
  });

  test('a change with the cookie needs X-CSRF-Token and no foreign Origin; refused, it changes nothing', async () => {
    const body = { name: 'console-ws', plan: 'trial_chat' };
    const noToken = await call<ErrorBody>(base, 'POST', '/api/admin/workspaces', { headers: withCookie(session), body });
    assert.equal(noToken.status, 403);
    assert.equal(noToken.body.error.code, 'csrf_failed');
    assert.match(noToken.body.error.message, /X-CSRF-Token/);
    const wrong = await call<ErrorBody>(base, 'POST', '/api/admin/workspaces', { headers: withCookie(session, { 'x-csrf-token': session.csrf.slice(1) + 'A' }), body });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'csrf_failed');
    const foreign = await call<ErrorBody>(base, 'POST', '/api/admin/workspaces', { headers: withCookie(session, { 'x-csrf-token': session.csrf, origin: 'http://evil.example' }), body });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error.code, 'csrf_failed');
    assert.match(foreign.body.error.message, /Origin/);
    const listed = await d.admin<{ workspaces: Array<{ name: string }> }>('GET', '/api/admin/workspaces');
    assert.ok(!listed.body.workspaces.some((w) => w.name === 'console-ws'), 'no workspace was made');
    assert.ok(!(await auditOf()).body.entries.some((e) => e.action === 'adminCreateWorkspace'), 'nothing to audit');

    const made = await call<{ name: string }>(base, 'POST', '/api/admin/workspaces', { headers: withCookie(session, { 'x-csrf-token': session.csrf, origin: base }), body });
    assert.equal(made.status, 201, made.text);
    const changed = await call(base, 'PATCH', '/api/admin/workspaces/console-ws', { headers: withCookie(session, { 'x-csrf-token': session.csrf }), body: { monthly_credits: 7 } });
    assert.equal(changed.status, 200, changed.text);

    const entries = (await auditOf()).body.entries;
    const create = entries.find((e) => e.action === 'adminCreateWorkspace');
    assert.ok(create, 'the change is in the audit log');
    assert.match(create.actor, /^session:[0-9a-f]{8}$/);
    assert.deepEqual({ method: create.method, path: create.path, target: create.target, details: create.details }, { method: 'POST', path: '/api/admin/workspaces', target: {}, details: body });
    assert.equal(create.source, '127.0.0.1');
    const patch = entries.find((e) => e.action === 'adminUpdateWorkspace');
    assert.deepEqual({ path: patch?.path, target: patch?.target, details: patch?.details, actor: patch?.actor }, { path: '/api/admin/workspaces/{workspace}', target: { workspace: 'console-ws' }, details: { monthly_credits: 7 }, actor: create.actor });
    assert.ok(entries.indexOf(patch!) < entries.indexOf(create), 'newest first');
    const signIn = entries.find((e) => e.action === 'adminCreateSession');
    assert.deepEqual({ actor: signIn?.actor, details: signIn?.details }, { actor: create.actor, details: {} }, 'the sign-in names the session it made, never the token');
  });

  test('changes made with the admin token are audited too; reads are not', async () => {
    const before = (await auditOf()).body.entries[0]!.id;
    assert.equal((await d.admin('GET', '/api/admin/plans')).status, 200);
    assert.equal((await d.admin('PATCH', '/api/admin/plans/trial_chat', { rpm: 7 })).status, 200);
    const newer = (await auditOf()).body.entries.filter((e) => e.id > before);
    assert.deepEqual(
      newer.map((e) => [e.actor, e.action, e.target, e.details]),
      [['admin-token', 'adminUpdatePlan', { plan: 'trial_chat' }, { rpm: 7 }]],
    );
  });

  test('the audit log never holds a key: not in its answers, not in the database file', async () => {
    const made = await call<{ id: string; key: string }>(base, 'POST', '/api/admin/keys', { headers: withCookie(session, { 'x-csrf-token': session.csrf }), body: { workspace: 'console-ws', name: 'from-console' } });
    assert.equal(made.status, 201, made.text);
    const rotated = await call<{ id: string; key: string }>(base, 'POST', `/api/admin/keys/${made.body.id}/rotate`, { headers: withCookie(session, { 'x-csrf-token': session.csrf }) });
    assert.equal(rotated.status, 200, rotated.text);
    const secrets = [made.body.key, rotated.body.key, ...[made.body.key, rotated.body.key].map((k) => k.split('_').slice(2).join('_')), d.adminToken];

    const entries = (await auditOf()).body.entries;
    assert.ok(entries.some((e) => e.action === 'adminCreateKey' && e.details.name === 'from-console'));
    assert.ok(entries.some((e) => e.action === 'adminRotateKey' && e.target.id === made.body.id));
    const viaCookie = await call(base, 'GET', '/api/admin/audit?limit=500', { headers: withCookie(session) });
    for (const text of [JSON.stringify(entries), viaCookie.text]) for (const s of secrets) assert.ok(!text.includes(s), 'a secret in the audit answer');

    const db = new BetterSqlite3(join(d.dataDir, 'hearth.db'), { readonly: true, fileMustExist: true });
    try {
      const rows = JSON.stringify(db.prepare('SELECT * FROM audit_log').all());
      assert.ok(rows.includes('adminRotateKey'), 'the rows are there');
      for (const s of secrets) assert.ok(!rows.includes(s), 'a secret in the audit table');
    } finally {
      db.close();
    }
    for (const file of ['hearth.db', 'hearth.db-wal'].map((f) => join(d.dataDir, f)).filter(existsSync)) {
      const bytes = readFileSync(file).toString('latin1');
      for (const s of secrets) assert.ok(!bytes.includes(s), `a secret in ${file}`);
    }
  });

  test('wrong tokens from one address: answered at first, then 429 with Retry-After; the count is per address and shared with Bearer', async (t) => {
    if (!(await loopbackAliases(base))) return t.skip('this box does not let a client take 127.0.0.2 as its address');
    for (let i = 1; i <= 5; i++) {
      const r = await call<ErrorBody>(base, 'POST', '/api/admin/session', { body: { token: `wrong-${i}` }, localAddress: '127.0.0.2' });
      assert.equal(r.status, 401, `try ${i}`);
      assert.equal(r.body.error.code, 'invalid_admin_token');
    }
    const sixth = await call<ErrorBody>(base, 'POST', '/api/admin/session', { body: { token: 'wrong-6' }, localAddress: '127.0.0.2' });
    assert.equal(sixth.status, 429);
    assert.equal(sixth.body.error.code, 'too_many_attempts');
    assert.ok(Number(sixth.headers['retry-after']) >= 1, `Retry-After: ${sixth.headers['retry-after']}`);
    // While the address waits, no token of it is looked at, the right one neither.
    const right = await call<ErrorBody>(base, 'POST', '/api/admin/session', { body: { token: d.adminToken }, localAddress: '127.0.0.2' });
    assert.equal(right.status, 429);
    const bearer = await call<ErrorBody>(base, 'GET', '/api/admin/plans', { headers: { authorization: `Bearer ${d.adminToken}` }, localAddress: '127.0.0.2' });
    assert.equal(bearer.status, 429);
    // Another address is not held: the admin token still works as Bearer, and the cookie too.
    assert.equal((await d.admin('GET', '/api/admin/plans')).status, 200);
    assert.equal((await call(base, 'GET', '/api/admin/plans', { headers: withCookie(session) })).status, 200);

    const refused = (await auditOf()).body.entries.filter((e) => e.action === 'adminCreateSession' && e.actor === 'anonymous');
    assert.equal(refused.length, 5, 'each wrong token is audited; the tries refused unread are not');
    assert.ok(refused.every((e) => e.source === '127.0.0.2' && JSON.stringify(e.details) === '{"refused":"invalid_admin_token"}'));
    assert.ok(!JSON.stringify(refused).includes('wrong-'), 'the tokens tried are not kept');

    // Wrong Bearer tokens on the admin API count the same way, and hold the sign-in too.
    for (let i = 1; i <= 5; i++) {
      const r = await call<ErrorBody>(base, 'GET', '/api/admin/plans', { headers: { authorization: `Bearer wrong-${i}` }, localAddress: '127.0.0.3' });
      assert.equal(r.status, 401, `bearer try ${i}`);
    }
    const held = await call<ErrorBody>(base, 'POST', '/api/admin/session', { body: { token: d.adminToken }, localAddress: '127.0.0.3' });
    assert.equal(held.status, 429);
    assert.equal(held.body.error.code, 'too_many_attempts');
    assert.ok(Number(held.headers['retry-after']) >= 1);
  });

  test('sign-out ends the session on the server: the old cookie is refused from then on', async () => {
    const other = await signIn(base, d.adminToken);
    const noCsrf = await call<ErrorBody>(base, 'DELETE', '/api/admin/session', { headers: withCookie(other) });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.error.code, 'csrf_failed');
    const out = await call(base, 'DELETE', '/api/admin/session', { headers: withCookie(other, { 'x-csrf-token': other.csrf }) });
    assert.equal(out.status, 204);
    assert.equal(cookieOf(out).attrs['max-age'], '0', 'the browser drops its cookie');
    for (const path of ['/api/admin/session', '/api/admin/workspaces']) {
      const r = await call<ErrorBody>(base, 'GET', path, { headers: withCookie(other) });
      assert.equal(r.status, 401, path);
      assert.equal(r.body.error.code, 'invalid_session');
    }
    assert.equal((await call(base, 'GET', '/api/admin/session', { headers: withCookie(session) })).status, 200, 'the first session is untouched');
    const entries = (await auditOf()).body.entries;
    const signOut = entries.find((e) => e.action === 'adminDeleteSession');
    assert.ok(signOut && /^session:[0-9a-f]{8}$/.test(signOut.actor) && signOut.method === 'DELETE');
  });

  test('the audit pages newest first with limit and before', async () => {
    const all = (await auditOf()).body.entries;
    assert.ok(all.length >= 4);
    assert.deepEqual(all.map((e) => e.id), [...all.map((e) => e.id)].sort((a, b) => b - a));
    const page = (await auditOf('?limit=2')).body.entries;
    assert.deepEqual(page.map((e) => e.id), all.slice(0, 2).map((e) => e.id));
    const next = (await auditOf(`?limit=2&before=${page[1]!.id}`)).body.entries;
    assert.deepEqual(next.map((e) => e.id), all.slice(2, 4).map((e) => e.id));
    const bad = await call<ErrorBody>(base, 'GET', '/api/admin/audit?limit=501', { headers: { authorization: `Bearer ${d.adminToken}` } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /limit/);
  });

  test('sessions survive a restart; a session past console.session_ttl is refused', async () => {
    await d.stop();
    const again = await startDaemonProcess({ dataDir, configYaml: 'console:\n  session_ttl: 2s\n' });
    try {
      const old = await call(again.url, 'GET', '/api/admin/session', { headers: withCookie(session) });
      assert.equal(old.status, 200, 'signed in before the restart, still signed in: its expiry was set at sign-in');
      const short = await signIn(again.url, again.adminToken);
      assert.equal(cookieOf(short.reply).attrs['max-age'], '2');
      // Poll until the server says it is over: the assertion is the answer, not the time it took.
      let last: Reply<ErrorBody> | undefined;
      for (let i = 0; i < 600; i++) {
        last = await call<ErrorBody>(again.url, 'GET', '/api/admin/workspaces', { headers: withCookie(short) });
        if (last.status !== 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(last?.status, 401);
      assert.equal(last?.body.error.code, 'session_expired');
      const change = await call<ErrorBody>(again.url, 'POST', '/api/admin/workspaces', { headers: withCookie(short, { 'x-csrf-token': short.csrf }), body: { name: 'late', plan: 'trial_chat' } });
      assert.equal(change.status, 401);
    } finally {
      await again.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AUDIT_PAGE_MAX, AuditLog, namedLikeSecret, redactSecrets, type NewAuditEntry } from '../../src/domain/audit-log.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';

const entry = (action: string, details: Record<string, unknown> = {}): NewAuditEntry => ({
  actor: 'admin-token',
  source: '127.0.0.1',
  action,
  method: 'POST',
  path: '/api/admin/keys/{id}/rotate',
  target: { id: 'abcdefghijklmnop' },
  details,
});

describe('AuditLog', () => {
  let d: Domain;
  let audit: AuditLog;
  beforeEach(() => {
    d = openDomain();
    audit = new AuditLog(d.db, d.clock);
  });
  afterEach(() => d.close());

  it('keeps what it is given, dated by the clock, and lists newest first', () => {
    const first = audit.append(entry('adminRotateKey', { name: 'ci' }));
    d.clock.advance(1000);
    const second = audit.append(entry('adminRevokeKey'));
    assert.ok(second.id > first.id);
    const listed = audit.list({ limit: 10 });
    assert.deepEqual(listed.map((e) => e.action), ['adminRevokeKey', 'adminRotateKey']);
    assert.deepEqual(listed[1], { ...entry('adminRotateKey', { name: 'ci' }), id: first.id, at: new Date('2025-03-15T12:00:00Z') });
    assert.equal(listed[0]!.at.toISOString(), '2025-03-15T12:00:01.000Z');
  });

  it('pages with limit and a before cursor; the limit is bounded', () => {
    const ids = Array.from({ length: 7 }, (_, i) => audit.append(entry(`op${i}`)).id);
    const page1 = audit.list({ limit: 3 });
    assert.deepEqual(page1.map((e) => e.id), ids.slice(4).reverse());
    const page2 = audit.list({ limit: 3, before: page1.at(-1)!.id });
    assert.deepEqual(page2.map((e) => e.id), ids.slice(1, 4).reverse());
    const page3 = audit.list({ limit: 3, before: page2.at(-1)!.id });
    assert.deepEqual(page3.map((e) => e.id), [ids[0]]);
    assert.deepEqual(audit.list({ limit: 3, before: ids[0]! }), []);
    for (let i = 0; i < AUDIT_PAGE_MAX; i++) audit.append(entry('bulk'));
    assert.equal(audit.list({ limit: 10_000 }).length, AUDIT_PAGE_MAX);
  });

  it('is append-only: the database refuses to change or delete an entry', () => {
    const { id } = audit.append(entry('adminCreateKey'));
    assert.throws(() => d.db.prepare("UPDATE audit_log SET actor = 'someone else' WHERE id = ?").run(id), /append-only/);
    assert.throws(() => d.db.prepare('DELETE FROM audit_log WHERE id = ?').run(id), /append-only/);
    assert.equal(audit.list({ limit: 1 })[0]!.actor, 'admin-token');
  });
});

describe('what of a request body the audit log keeps', () => {
  it('fields named like secrets are left out; ids and plain names stay', () => {
    for (const name of ['token', 'secret', 'password', 'client_secret', 'api_key', 'apiKey', 'key', 'private-key', 'secretValue', 'accessToken', 'refresh_tokens', 'passphrase', 'credentials', 'authorization', 'Cookie', 'hf_keys']) {
      assert.equal(namedLikeSecret(name), true, name);
    }
    for (const name of ['key_id', 'keyId', 'name', 'workspace', 'scopes', 'monkey_business', 'keyboard', 'expires_at', 'description']) {
      assert.equal(namedLikeSecret(name), false, name);
    }
  });

  it('redacts a body: secrets out (nested too), counts and flags kept, key-shaped text replaced', () => {
    const body = {
      token: 'hunter2',
      name: 'ci',
      workspace: 'acme',
      key_id: 'abcdefghijklmnop',
      scopes: ['chat'],
      parameters: { max_tokens: 256, temperature: 0.2, stop: ['\n'] },
      upstream: { api_key: 'sk-live-123', url: 'http://x', password: null, token_limit: 5, keep_key: true },
      description: 'rotated because hth_abcdefghijklmnop_s3cr3tS3cr3tS3cr3t leaked',
      list: [{ secret: 'x', id: 1 }],
    };
    assert.deepEqual(redactSecrets(body), {
      name: 'ci',
      workspace: 'acme',
      key_id: 'abcdefghijklmnop',
      scopes: ['chat'],
      parameters: { max_tokens: 256, temperature: 0.2, stop: ['\n'] },
      upstream: { url: 'http://x', password: null, token_limit: 5, keep_key: true },
      description: '[redacted]',
      list: [{ id: 1 }],
    });
    assert.equal(JSON.stringify(redactSecrets({ note: 'hth_admin_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })), '{"note":"[redacted]"}');
  });

  it('bounds what it keeps: long text and arrays cut, deep nesting cut off; the input is left as it was', () => {
    const long = 'x'.repeat(5000);
    const body = { text: long, many: Array.from({ length: 500 }, (_, i) => i), deep: {} as Record<string, unknown> };
    let at = body.deep;
    for (let i = 0; i < 20; i++) at = at.next = {} as Record<string, unknown>;
    const r = redactSecrets(body) as { text: string; many: number[]; deep: unknown };
    assert.equal(r.text.length, 1001);
    assert.equal(r.many.length, 100);
    assert.match(JSON.stringify(r.deep), /"\[too deep\]"/);
    assert.equal(body.text.length, 5000);
    assert.equal(body.many.length, 500);
  });

  it('non-object bodies pass through as values', () => {
    assert.equal(redactSecrets(undefined), undefined);
    assert.equal(redactSecrets(3), 3);
    assert.deepEqual(redactSecrets([{ token: 'x' }]), [{}]);
  });
});

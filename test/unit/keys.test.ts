import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Keys, parseKey } from '../../src/domain/keys.js';
import { HearthError } from '../../src/errors.js';
import { openDomain, TEST_SECRET, type Domain } from '../helpers/domain-db.js';

const DAY = 86_400_000;
const invalid = (code?: string) => (e: unknown) => e instanceof HearthError && e.kind === 'invalid_request' && (code === undefined || e.code === code);

describe('Workspaces', () => {
  let d: Domain;
  beforeEach(() => (d = openDomain()));
  afterEach(() => d.close());

  it('creates, finds by id or name, and refuses duplicates and bad names', () => {
    const ws = d.workspaces.create({ name: 'acme.prod-1', planId: 'paid_chat' });
    assert.match(ws.id, /^ws_[0-9a-f]{16}$/);
    assert.deepEqual(d.workspaces.get(ws.id), ws);
    assert.deepEqual(d.workspaces.get('ACME.prod-1'), ws);
    assert.throws(() => d.workspaces.create({ name: 'Acme.Prod-1', planId: 'trial_chat' }), (e: unknown) => e instanceof HearthError && e.kind === 'conflict');
    for (const name of ['', 'a b', 'x'.repeat(65), 'ü', 'a/b', 'ws_0123456789abcdef']) {
      assert.throws(() => d.workspaces.create({ name, planId: 'paid_chat' }), invalid('invalid_workspace_name'), name);
    }
    assert.ok(d.workspaces.create({ name: 'x'.repeat(64), planId: 'paid_chat' }));
    assert.throws(() => d.workspaces.create({ name: 'other', planId: 'gold' }), invalid('unknown_plan'));
    assert.throws(() => d.workspaces.create({ name: 'other', planId: 'paid_chat', monthlyCredits: -5 }), invalid('invalid_credits'));
    assert.throws(() => d.workspaces.get('nobody'), (e: unknown) => e instanceof HearthError && e.kind === 'not_found');
    assert.deepEqual(d.workspaces.list().map((w) => w.name), ['acme.prod-1', 'x'.repeat(64)]);
  });

  it('budget is the override, else the plan’s, null meaning unlimited', () => {
    const ws = d.workspaces.create({ name: 'acme', planId: 'trial_chat' });
    assert.equal(d.workspaces.budget(ws), 15_000);
    d.workspaces.setCredits(ws.id, 500);
    assert.equal(d.workspaces.budget('acme'), 500);
    d.workspaces.setCredits(ws.id, null);
    d.workspaces.setPlan(ws.id, 'enterprise');
    assert.equal(d.workspaces.budget(ws.id), null);
    assert.equal(d.workspaces.get(ws.id).planId, 'enterprise');
    assert.throws(() => d.workspaces.setPlan(ws.id, 'gold'), invalid('unknown_plan'));
  });

  it('update changes plan and budget together or not at all; find answers undefined where get throws', () => {
    const ws = d.workspaces.create({ name: 'acme', planId: 'trial_chat' });
    assert.deepEqual(d.workspaces.update('ACME', { planId: 'paid_chat', monthlyCredits: 9 }), { ...ws, planId: 'paid_chat', monthlyCredits: 9 });
    assert.throws(() => d.workspaces.update(ws.id, { planId: 'chat_agent', monthlyCredits: -1 }), invalid('invalid_credits'));
    assert.deepEqual(d.workspaces.get(ws.id), { ...ws, planId: 'paid_chat', monthlyCredits: 9 }, 'the plan set before the refused budget was rolled back');
    assert.equal(d.workspaces.find('nobody'), undefined);
    assert.equal(d.workspaces.find('Acme')?.id, ws.id);
  });
});

describe('Keys', () => {
  let d: Domain;
  let wsId: string;
  beforeEach(() => {
    d = openDomain();
    wsId = d.workspaces.create({ name: 'acme', planId: 'chat_agent_train' }).id;
  });
  afterEach(() => d.close());

  it('creates a key of the documented shape that verifies, with the plan’s scopes by default', () => {
    const { key, record } = d.keys.create({ workspaceId: wsId, name: 'ci' });
    assert.match(key, /^hth_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(parseKey(key), { id: record.id, secret: key.slice(21) });
    assert.deepEqual(record.scopes, ['chat', 'chat_agent', 'chat_agent_train']);
    const v = d.keys.verify(key);
    assert.ok(v.ok);
    assert.equal(v.record.id, record.id);
    assert.equal(v.workspace.id, wsId);
    assert.equal(v.plan.id, 'chat_agent_train');
    assert.deepEqual(v.scopes, ['chat', 'chat_agent', 'chat_agent_train']);
    assert.deepEqual(d.keys.list({ workspaceId: wsId }), [record]);
    assert.ok(!('hash' in (d.keys.list()[0] as object)));
  });

  it('tells malformed, unknown, revoked and expired apart (wrong secret reads as unknown)', () => {
    const { key, record } = d.keys.create({ workspaceId: wsId, name: 'a', expiresAt: new Date(d.clock.now().getTime() + DAY) });
    const wrongSecret = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    assert.deepEqual(d.keys.verify(wrongSecret), { ok: false, reason: 'unknown' });
    const unknownId = `hth_${'f'.repeat(16)}_${key.slice(21)}`;
    assert.deepEqual(d.keys.verify(unknownId), { ok: false, reason: 'unknown' });
    for (const bad of ['', 'hth_', key.slice(0, -1), `${key}x`, key.toUpperCase(), `Bearer ${key}`, ` ${key}`, key.replace('hth_', 'hth-'), `hth_${record.id}_${'!'.repeat(43)}`, null as unknown as string]) {
      assert.deepEqual(d.keys.verify(bad), { ok: false, reason: 'malformed' }, String(bad));
    }
    // A key from another server (other secret) does not verify here.
    const foreign = new Keys(d.db, Buffer.alloc(32, 9), d.clock);
    assert.deepEqual(foreign.verify(key), { ok: false, reason: 'unknown' });

    d.clock.advance(DAY);
    assert.deepEqual(d.keys.verify(key), { ok: false, reason: 'expired' });
    d.clock.advance(-DAY - 1);
    assert.equal(d.keys.verify(key).ok, true);
    d.keys.revoke(record.id);
    d.keys.revoke(record.id); // idempotent
    assert.deepEqual(d.keys.verify(key), { ok: false, reason: 'revoked' });
    assert.throws(() => d.keys.revoke('0000000000000000'), (e: unknown) => e instanceof HearthError && e.kind === 'not_found');
  });

  it('refuses scopes beyond the workspace plan, naming them', () => {
    const trial = d.workspaces.create({ name: 'trial', planId: 'trial_chat' });
    assert.throws(
      () => d.keys.create({ workspaceId: trial.id, name: 'k', scopes: ['chat', 'chat_agent_train'] }),
      (e: unknown) => invalid('scope_not_in_plan')(e) && /'chat_agent_train'/.test((e as Error).message) && !/'chat'/.test((e as Error).message),
    );
    assert.throws(() => d.keys.create({ workspaceId: trial.id, name: 'k', scopes: ['sudo' as never] }), (e: unknown) => invalid('invalid_scopes')(e) && /'sudo'/.test((e as Error).message));
    assert.throws(() => d.keys.create({ workspaceId: trial.id, name: '', scopes: ['chat'] }), invalid('invalid_key_name'));
    assert.throws(() => d.keys.create({ workspaceId: trial.id, name: 'k', expiresAt: new Date(d.clock.now().getTime() - 1) }), invalid('invalid_expiry'));
    assert.throws(() => d.keys.create({ workspaceId: 'ws_nope', name: 'k' }), (e: unknown) => e instanceof HearthError && e.kind === 'not_found');
    const narrow = d.keys.create({ workspaceId: wsId, name: 'chat only', scopes: ['chat'] });
    assert.deepEqual(narrow.record.scopes, ['chat']);
  });

  it('stores only an HMAC of the key: neither the key nor its secret is in the database files', () => {
    const { key, record } = d.keys.create({ workspaceId: wsId, name: 'secretive' });
    const stored = d.db.prepare('SELECT hash FROM api_keys WHERE id = ?').pluck().get(record.id) as Buffer;
    assert.deepEqual(stored, createHmac('sha256', TEST_SECRET).update(key).digest());
    const secret = (parseKey(key) as { secret: string }).secret;
    const look = () => {
      for (const f of [d.path, `${d.path}-wal`].filter(existsSync)) {
        const bytes = readFileSync(f);
        assert.equal(bytes.includes(secret), false, `secret found in ${f}`);
        assert.equal(bytes.includes(Buffer.from(secret, 'base64url')), false, `secret bytes found in ${f}`);
      }
    };
    look(); // while open, the row may sit in the WAL
    d.db.close(); // checkpoints into the main file
    look();
    assert.ok(readFileSync(d.path).includes(Buffer.from(record.id)), 'the id is stored in the clear');
  });

  it('rotates: new key, same workspace, name and scopes; old one revoked and pointing at it; usage follows the workspace', () => {
    const { key: oldKey, record: old } = d.keys.create({ workspaceId: wsId, name: 'prod', scopes: ['chat', 'chat_agent'] });
    const r = d.ledger.reserve({ workspaceId: wsId, keyId: old.id, endpoint: 'POST /chat', credits: 40, requestId: 'r1' });
    d.ledger.settle(r);
    const before = d.ledger.usage(wsId);
    const { key: newKey, record: fresh } = d.keys.rotate(old.id);
    assert.notEqual(fresh.id, old.id);
    assert.equal(fresh.workspaceId, wsId);
    assert.equal(fresh.name, 'prod');
    assert.deepEqual(fresh.scopes, ['chat', 'chat_agent']);
    assert.deepEqual(d.keys.verify(oldKey), { ok: false, reason: 'revoked' });
    assert.equal(d.keys.get(old.id).rotatedTo, fresh.id);
    const v = d.keys.verify(newKey);
    assert.ok(v.ok);
    assert.deepEqual(d.ledger.usage(wsId), before);
    const r2 = d.ledger.reserve({ workspaceId: v.workspace.id, keyId: fresh.id, endpoint: 'POST /chat', credits: 2, requestId: 'r2' });
    d.ledger.settle(r2);
    assert.equal(d.ledger.usage(wsId).used, 42);
    assert.throws(() => d.keys.rotate(old.id), (e: unknown) => e instanceof HearthError && e.kind === 'conflict');
  });

  it('rotating keeps the expiry; an expired key needs a new one', () => {
    const { record } = d.keys.create({ workspaceId: wsId, name: 'temp', expiresAt: new Date(d.clock.now().getTime() + DAY) });
    const first = d.keys.rotate(record.id);
    assert.deepEqual(first.record.expiresAt, record.expiresAt);
    d.clock.advance(2 * DAY);
    assert.throws(() => d.keys.rotate(first.record.id), invalid('key_expired'));
    const second = d.keys.rotate(first.record.id, { expiresAt: null });
    assert.equal(second.record.expiresAt, null);
    assert.equal(d.keys.verify(second.key).ok, true);
  });

  it('update renames and sets or clears the expiry; a time not in the future expires the key now', () => {
    const { key, record } = d.keys.create({ workspaceId: wsId, name: 'ci' });
    const later = new Date(d.clock.now().getTime() + DAY);
    assert.deepEqual(d.keys.update(record.id, { name: 'deploy', expiresAt: later }), { ...record, name: 'deploy', expiresAt: later });
    assert.equal(d.keys.update(record.id, { expiresAt: null }).expiresAt, null);
    assert.equal(d.keys.update(record.id, {}).name, 'deploy', 'nothing asked, nothing changed');
    assert.throws(() => d.keys.update(record.id, { name: 'x\ny' }), invalid('invalid_key_name'));
    assert.throws(() => d.keys.update(record.id, { expiresAt: new Date('nonsense') }), invalid('invalid_expiry'));
    assert.equal(d.keys.verify(key).ok, true);

    const expired = d.keys.update(record.id, { expiresAt: new Date('2020-01-01T00:00:00Z') });
    assert.deepEqual(expired.expiresAt, d.clock.now(), 'the past given, the key expires at the time of the change');
    assert.deepEqual(d.keys.verify(key), { ok: false, reason: 'expired' });
    d.clock.advance(DAY);
    assert.deepEqual(d.keys.update(record.id, { expiresAt: new Date(0) }).expiresAt, expired.expiresAt, 'an expired key keeps its time');
    assert.equal(d.keys.update(record.id, { expiresAt: null }).expiresAt, null, 'and may be given back its life');
    assert.equal(d.keys.verify(key).ok, true);

    d.keys.revoke(record.id);
    assert.throws(() => d.keys.update(record.id, { name: 'again' }), (e: unknown) => e instanceof HearthError && e.kind === 'conflict' && e.code === 'key_revoked');
    assert.throws(() => d.keys.update('0000000000000000', { name: 'x' }), (e: unknown) => e instanceof HearthError && e.kind === 'not_found');
  });

  it('effective scopes shrink when the plan changes, and come back with it', () => {
    const { key } = d.keys.create({ workspaceId: wsId, name: 'k' });
    d.workspaces.setPlan(wsId, 'paid_chat');
    const v = d.keys.verify(key);
    assert.ok(v.ok);
    assert.deepEqual(v.scopes, ['chat']);
    assert.deepEqual(v.record.scopes, ['chat', 'chat_agent', 'chat_agent_train']);
    d.catalog.setPlan('paid_chat', { scopes: ['chat', 'chat_agent_train'] });
    const w = d.keys.verify(key);
    assert.ok(w.ok);
    assert.deepEqual(w.scopes, ['chat', 'chat_agent_train']);
    // A new key may not exceed the plan as it now is.
    assert.throws(() => d.keys.create({ workspaceId: wsId, name: 'k2', scopes: ['chat_agent'] }), invalid('scope_not_in_plan'));
  });

  it('records last use in batches', () => {
    const { record } = d.keys.create({ workspaceId: wsId, name: 'k' });
    d.keys.touch(record.id);
    assert.equal(d.keys.get(record.id).lastUsedAt, null);
    d.keys.flushTouches();
    assert.deepEqual(d.keys.get(record.id).lastUsedAt, d.clock.now());
    d.clock.advance(-1000);
    d.keys.touch(record.id);
    d.keys.flushTouches();
    assert.deepEqual(d.keys.get(record.id).lastUsedAt?.getTime(), d.clock.now().getTime() + 1000, 'never moves backwards');
  });

  it('verify costs microseconds', (t) => {
    const { key } = d.keys.create({ workspaceId: wsId, name: 'bench' });
    const n = 20_000;
    for (let i = 0; i < 1000; i++) d.keys.verify(key);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) d.keys.verify(key);
    const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
    t.diagnostic(`verify: ${us.toFixed(2)} µs per call (mean of ${n})`);
  });
});

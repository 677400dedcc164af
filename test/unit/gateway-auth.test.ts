// authenticate (src/gateway/auth.ts): the workspace key, its expiry and revocation, the
// principal it resolves to, and the plan's per-minute rate limit, on the real key store (SQLite
// in a temp dir) with the test's clock driving expiry and the rate windows.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HearthError } from '../../src/errors.js';
import { authenticate } from '../../src/gateway/auth.js';
import type { Principal } from '../../src/gateway/principal.js';
import { RateLimiter } from '../../src/gateway/rate-limiter.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';
import { httpPair } from '../helpers/http-pair.js';

const HOUR = 3_600_000;
const refusal = (kind: string, code: string, message?: RegExp) => (e: unknown) =>
  e instanceof HearthError && e.kind === kind && e.code === code && (message === undefined || message.test(e.message));

describe('authenticate', () => {
  let d: Domain;
  let wsId: string;
  let key: string;
  let keyId: string;
  type Outcome = { principal: Principal | undefined; headers: Record<string, unknown>; passed: boolean };
  let run: (headers: Record<string, string>) => Outcome;
  /** What the last run left, whether it passed or threw: the headers are set before a refusal too. */
  let last: Outcome;

  beforeEach(() => {
    d = openDomain({ now: '2025-03-15T12:00:10.000Z' });
    wsId = d.workspaces.create({ name: 'acme', planId: 'chat_agent' }).id;
    ({ key, record: { id: keyId } } = d.keys.create({ workspaceId: wsId, name: 'ci' }));
    const now = () => d.clock.now().getTime();
    const middleware = authenticate({ keys: d.keys, limiter: new RateLimiter(now), now });
    run = (headers) => {
      const { req, res } = httpPair({ method: 'GET', url: '/api/v1/usage', headers });
      let passed = false;
      try {
        middleware(req, res, () => (passed = true));
      } finally {
        last = { principal: res.locals.principal, headers: res.getHeaders(), passed };
      }
      return last;
    };
  });
  afterEach(() => d.close());

  it('takes the key from X-API-Key or Authorization: Bearer and resolves who calls', () => {
    const expected: Principal = {
      keyId,
      keyName: 'ci',
      workspaceId: wsId,
      workspaceName: 'acme',
      planId: 'chat_agent',
      planTitle: d.catalog.plan('chat_agent').title,
      scopes: ['chat', 'chat_agent'],
      rpm: 300,
      maxConcurrent: 4,
      weight: 1,
    };
    for (const headers of [{ 'x-api-key': key }, { authorization: `Bearer ${key}` }, { authorization: `bearer ${key}  ` }] as Array<Record<string, string>>) {
      const r = run(headers);
      assert.equal(r.passed, true, JSON.stringify(headers));
      assert.deepEqual(r.principal, expected);
    }
  });

  it('a missing key is a 401 missing_api_key that says how to send one', () => {
    for (const headers of [{}, { authorization: `Basic ${Buffer.from(`u:${key}`).toString('base64')}` }, { authorization: 'Bearer' }] as Array<Record<string, string>>) {
      assert.throws(() => run(headers), refusal('authentication', 'missing_api_key', /X-API-Key or Authorization: Bearer/), JSON.stringify(headers));
      assert.equal(last.passed, false);
      assert.equal(last.principal, undefined);
    }
    assert.equal(new HearthError('authentication', '').status, 401);
  });

  it('malformed, unknown and wrong-secret keys are one and the same 401 invalid_api_key', () => {
    const [, id] = /^hth_([0-9a-f]{16})_/.exec(key)!;
    for (const presented of ['hth_nope', 'sk-something', `hth_${'0'.repeat(16)}_${'A'.repeat(43)}`, `hth_${id}_${'B'.repeat(43)}`]) {
      assert.throws(() => run({ 'x-api-key': presented }), refusal('authentication', 'invalid_api_key', /^invalid API key$/), presented);
    }
  });

  it('a revoked key, and the old key of a rotation, are a 401 revoked_api_key', () => {
    const { key: other, record } = d.keys.create({ workspaceId: wsId, name: 'other' });
    d.keys.revoke(record.id);
    assert.throws(() => run({ 'x-api-key': other }), refusal('authentication', 'revoked_api_key', /revoked/));
    const { key: successor } = d.keys.rotate(keyId);
    assert.throws(() => run({ 'x-api-key': key }), refusal('authentication', 'revoked_api_key'));
    assert.equal(run({ 'x-api-key': successor }).principal?.workspaceId, wsId, 'the successor is the same workspace');
  });

  it('a key is refused as expired from its expiry on, by the clock', () => {
    const { key: expiring } = d.keys.create({ workspaceId: wsId, name: 'temp', expiresAt: new Date(d.clock.now().getTime() + HOUR) });
    assert.equal(run({ 'x-api-key': expiring }).passed, true);
    d.clock.advance(HOUR - 1);
    assert.equal(run({ 'x-api-key': expiring }).passed, true, 'a millisecond before');
    d.clock.advance(1);
    assert.throws(() => run({ 'x-api-key': expiring }), refusal('authentication', 'expired_api_key', /this API key has expired/));
    assert.equal(run({ 'x-api-key': key }).passed, true, 'a key without expiry never expires');
  });

  it("sets the rate-limit headers on every answer, refuses past the plan's rpm with 429 and Retry-After, and forgives at the next minute", () => {
    d.catalog.setPlan('chat_agent', { rpm: 2 });
    const reset = String(Date.parse('2025-03-15T12:01:00Z') / 1000);
    assert.deepEqual(headersOf(run({ 'x-api-key': key })), { limit: '2', remaining: '1', reset });
    assert.deepEqual(headersOf(run({ 'x-api-key': key })), { limit: '2', remaining: '0', reset });
    d.clock.advance(20_000);
    assert.throws(
      () => run({ 'x-api-key': key }),
      (e: unknown) => refusal('rate_limited', 'rate_limit_exceeded', /2 requests per minute/)(e) && (e as HearthError).retryAfterS === 30 && (e as HearthError).status === 429,
    );
    assert.deepEqual(headersOf(last), { limit: '2', remaining: '0', reset }, 'the refusal carries them too');
    const { key: sameWorkspace } = d.keys.create({ workspaceId: wsId, name: 'second' });
    assert.equal(run({ 'x-api-key': sameWorkspace }).passed, true, 'the limit is per key');
    d.clock.set('2025-03-15T12:01:00.000Z');
    assert.equal(run({ 'x-api-key': key }).passed, true);
  });

  it("the scopes are the key's that its plan grants now: a plan narrowed after the key was made narrows it", () => {
    assert.deepEqual(run({ 'x-api-key': key }).principal?.scopes, ['chat', 'chat_agent']);
    d.catalog.setPlan('chat_agent', { scopes: ['chat'] });
    assert.deepEqual(run({ 'x-api-key': key }).principal?.scopes, ['chat']);
    d.catalog.setPlan('chat_agent', { scopes: ['chat', 'chat_agent'] });
    assert.deepEqual(run({ 'x-api-key': key }).principal?.scopes, ['chat', 'chat_agent'], 'given back: the key was made with it');
  });

  it('notes when a key was last used, by the clock, and not when it was refused', () => {
    assert.equal(d.keys.get(keyId).lastUsedAt, null);
    run({ 'x-api-key': key });
    d.keys.flushTouches();
    assert.deepEqual(d.keys.get(keyId).lastUsedAt, new Date('2025-03-15T12:00:10.000Z'));
    d.catalog.setPlan('chat_agent', { rpm: 1 });
    d.clock.advance(1000);
    assert.throws(() => run({ 'x-api-key': key }), refusal('rate_limited', 'rate_limit_exceeded'));
    d.keys.flushTouches();
    assert.deepEqual(d.keys.get(keyId).lastUsedAt, new Date('2025-03-15T12:00:10.000Z'), 'a rate-limited call is no use');
  });
});

function headersOf(r: { headers: Record<string, unknown> }): { limit: unknown; remaining: unknown; reset: unknown } {
  return { limit: r.headers['x-ratelimit-limit'], remaining: r.headers['x-ratelimit-remaining'], reset: r.headers['x-ratelimit-reset'] };
}

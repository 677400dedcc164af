import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimiter, tooManyInferenceCalls } from '../../src/gateway/concurrency.js';
import { HearthError } from '../../src/errors.js';

test('a workspace holds at most its limit of places; others are not affected; a place is given back once', () => {
  const c = new ConcurrencyLimiter();
  const a1 = c.acquire('ws_a', 2, tooManyInferenceCalls);
  const a2 = c.acquire('ws_a', 2, tooManyInferenceCalls);
  assert.throws(
    () => c.acquire('ws_a', 2, tooManyInferenceCalls),
    (e: unknown) => e instanceof HearthError && e.status === 429 && e.code === 'concurrency_limit_exceeded' && e.retryAfterS === 1,
  );
  const b = c.acquire('ws_b', 2, tooManyInferenceCalls);
  assert.equal(c.count('ws_b'), 1);
  a1();
  a1(); // a second release (close after finish) gives back nothing more
  assert.equal(c.count('ws_a'), 1);
  const a3 = c.acquire('ws_a', 2, tooManyInferenceCalls);
  assert.throws(() => c.acquire('ws_a', 2, tooManyInferenceCalls), HearthError);
  a2();
  a3();
  b();
  assert.equal(c.count('ws_a'), 0);
  assert.equal(c.count('ws_b'), 0);
});

test('acquireAll takes a place under every key or none: a refusal gives back what it took', () => {
  const c = new ConcurrencyLimiter();
  const refuse = () => new HearthError('rate_limited', 'full', { code: 'full' });
  const places = (ws: string) => [
    { key: `up:${ws}`, limit: 1, refuse },
    { key: 'up:*', limit: 2, refuse },
  ];
  const a = c.acquireAll(places('a'));
  assert.throws(() => c.acquireAll(places('a')), HearthError, "the workspace's one place is taken");
  assert.equal(c.count('up:*'), 1, 'nothing of the refused call is held');
  const b = c.acquireAll(places('b'));
  assert.throws(() => c.acquireAll(places('x')), HearthError, "the server's places are taken");
  assert.equal(c.count('up:x'), 0, 'the refused call gave its workspace place back');
  a();
  a();
  assert.deepEqual([c.count('up:a'), c.count('up:*')], [0, 1]);
  b();
  assert.equal(c.count('up:*'), 0);
});

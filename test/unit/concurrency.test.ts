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

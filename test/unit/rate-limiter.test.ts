import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { HearthError } from '../../src/errors.js';
import { RateLimiter } from '../../src/gateway/rate-limiter.js';

const at = (iso: string) => Date.parse(iso);

describe('RateLimiter', () => {
  const clock = () => {
    const c = new ManualClock('2025-03-15T12:00:10.000Z');
    return { c, limiter: new RateLimiter(() => c.now().getTime()) };
  };

  it('counts a key down within its minute, refuses past the limit without counting, and resets at the next minute', () => {
    const { c, limiter } = clock();
    const reset = at('2025-03-15T12:01:00.000Z') / 1000;
    assert.deepEqual(limiter.take('k', 3), { limit: 3, remaining: 2, resetS: reset, allowed: true });
    assert.deepEqual(limiter.take('k', 3), { limit: 3, remaining: 1, resetS: reset, allowed: true });
    c.set('2025-03-15T12:00:59.999Z');
    assert.deepEqual(limiter.take('k', 3), { limit: 3, remaining: 0, resetS: reset, allowed: true });
    assert.deepEqual(limiter.take('k', 3), { limit: 3, remaining: 0, resetS: reset, allowed: false });
    assert.deepEqual(limiter.take('k', 3), { limit: 3, remaining: 0, resetS: reset, allowed: false }, 'a refusal is not counted against the next');
    c.set('2025-03-15T12:01:00.000Z');
    assert.deepEqual(limiter.take('k', 3), { limit: 3, remaining: 2, resetS: reset + 60, allowed: true }, 'fixed windows: the new minute starts whole');
  });

  it('keeps one window per key', () => {
    const { limiter } = clock();
    assert.equal(limiter.take('a', 1).allowed, true);
    assert.equal(limiter.take('a', 1).allowed, false);
    assert.equal(limiter.take('b', 1).allowed, true, "another key's requests are its own");
  });

  it('applies a changed limit at once, to what the key has used in the minute', () => {
    const { limiter } = clock();
    for (let i = 0; i < 3; i++) assert.equal(limiter.take('k', 10).allowed, true);
    assert.deepEqual(limiter.take('k', 2), { limit: 2, remaining: 0, resetS: at('2025-03-15T12:01:00.000Z') / 1000, allowed: false });
    assert.deepEqual(limiter.take('k', 5).remaining, 1, 'raised again: 4 of 5 used');
  });

  it('a refusal is a 429 rate_limit_exceeded naming the limit, retried when the window ends (at least 1 s)', () => {
    const { c, limiter } = clock();
    limiter.take('k', 1);
    const refused = limiter.take('k', 1);
    const e = RateLimiter.exceeded(refused, c.now().getTime());
    assert.ok(e instanceof HearthError);
    assert.equal(e.kind, 'rate_limited');
    assert.equal(e.status, 429);
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.equal(e.retryAfterS, 50);
    assert.match(e.message, /1 requests per minute for this key; retry in 50 s/);
    assert.equal(RateLimiter.exceeded(refused, at('2025-03-15T12:00:59.900Z')).retryAfterS, 1, 'never 0: a client must wait for the next window');
  });
});

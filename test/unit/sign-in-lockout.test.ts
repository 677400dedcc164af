import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignInLockout } from '../../src/gateway/sign-in-lockout.js';
import { HearthError } from '../../src/errors.js';

/** A lockout on a clock the test moves. */
function lockout(options: { maxClients?: number } = {}) {
  let now = Date.UTC(2025, 2, 15);
  const l = new SignInLockout({ attempts: 5, delayMs: 1000, maxDelayMs: 60_000, now: () => now, ...options });
  return { l, advance: (ms: number) => (now += ms) };
}

/** The seconds to wait `client` is told, or undefined when it may try now. */
function retryAfter(l: SignInLockout, client: string): number | undefined {
  try {
    l.check(client);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof HearthError);
    assert.equal(err.status, 429);
    assert.equal(err.code, 'too_many_attempts');
    return err.retryAfterS;
  }
}

describe('SignInLockout', () => {
  it('the first wrong tokens are answered at once; past them each try waits', () => {
    const { l } = lockout();
    for (let i = 0; i < 4; i++) {
      l.failed('198.51.100.7');
      assert.equal(retryAfter(l, '198.51.100.7'), undefined, `after ${i + 1} wrong`);
    }
    l.failed('198.51.100.7');
    assert.equal(retryAfter(l, '198.51.100.7'), 1, 'after the fifth wrong token, 1 s');
    assert.equal(retryAfter(l, '203.0.113.9'), undefined, 'another address is not held');
  });

  it('the wait doubles with each further wrong token, up to the cap', () => {
    const { l, advance } = lockout();
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      l.failed('c');
      const wait = retryAfter(l, 'c');
      if (wait !== undefined) {
        waits.push(wait);
        advance(wait * 1000);
        assert.equal(retryAfter(l, 'c'), undefined, 'the wait over, one more try');
      }
    }
    assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
  });

  it('a try during the wait is refused and does not lengthen it; the time left is told, rounded up', () => {
    const { l, advance } = lockout();
    for (let i = 0; i < 6; i++) l.failed('c');
    assert.equal(retryAfter(l, 'c'), 2);
    advance(1500);
    assert.equal(retryAfter(l, 'c'), 1);
    advance(499);
    assert.equal(retryAfter(l, 'c'), 1);
    advance(1);
    assert.equal(retryAfter(l, 'c'), undefined);
  });

  it('the right token clears the count', () => {
    const { l, advance } = lockout();
    for (let i = 0; i < 7; i++) l.failed('c');
    advance(10_000);
    l.succeeded('c');
    for (let i = 0; i < 4; i++) l.failed('c');
    assert.equal(retryAfter(l, 'c'), undefined, 'four new wrong tokens are within the allowance again');
    l.failed('c');
    assert.equal(retryAfter(l, 'c'), 1, 'and the waits start over from the first');
  });

  it('a day without wrong tokens forgives, once the wait is over', () => {
    const { l, advance } = lockout();
    for (let i = 0; i < 5; i++) l.failed('c');
    advance(86_400_001);
    l.failed('c');
    assert.equal(retryAfter(l, 'c'), undefined, 'the count started again');
  });

  it('tracks a bounded number of addresses, forgetting the one quiet the longest', () => {
    const { l } = lockout({ maxClients: 3 });
    for (const c of ['a', 'b', 'c']) for (let i = 0; i < 5; i++) l.failed(c);
    l.failed('a'); // a is now the most recent
    l.failed('d');
    assert.equal(l.size, 3);
    assert.equal(retryAfter(l, 'b'), undefined, 'b was quiet the longest: dropped');
    assert.notEqual(retryAfter(l, 'a'), undefined);
    assert.notEqual(retryAfter(l, 'c'), undefined);
  });
});

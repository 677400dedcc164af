import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKeepAlive } from '../../src/engine/runtime/keep-alive.js';
import { HearthError } from '../../src/errors.js';

test('durations and seconds as Ollama reads them', () => {
  assert.equal(parseKeepAlive('5m'), 300_000);
  assert.equal(parseKeepAlive('1h30m'), 5_400_000);
  assert.equal(parseKeepAlive('250ms'), 250);
  assert.equal(parseKeepAlive(30), 30_000);
  assert.equal(parseKeepAlive('30'), 30_000);
  assert.equal(parseKeepAlive(0), 0);
  assert.equal(parseKeepAlive('0'), 0);
  assert.equal(parseKeepAlive(-1), Infinity);
  assert.equal(parseKeepAlive('-1m'), Infinity);
});

test('garbage is a 400 naming the field', () => {
  for (const v of ['soon', '5 minutes', '', 'm5', true]) {
    assert.throws(() => parseKeepAlive(v), (e: unknown) => e instanceof HearthError && e.status === 400 && /keep_alive/.test(e.message), String(v));
  }
});

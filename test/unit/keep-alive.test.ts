import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatKeepAlive, parseKeepAlive } from '../../src/engine/runtime/keep-alive.js';
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

test('formatKeepAlive writes what parseKeepAlive reads back exactly, never rounding to seconds', () => {
  const cases: Array<[number, string]> = [
    [400, '400ms'],
    [0, '0ms'],
    [1500, '1500ms'],
    [2000, '2s'],
    [300_000, '5m'],
    [3_600_000, '1h'],
    [0.5, '0.5ms'],
    [Infinity, '-1'],
  ];
  for (const [ms, text] of cases) {
    assert.equal(formatKeepAlive(ms), text);
    assert.equal(parseKeepAlive(formatKeepAlive(ms)), ms, text);
  }
  assert.equal(formatKeepAlive(-5), '-1', 'any negative value is forever, as in Ollama');
  assert.throws(() => formatKeepAlive(NaN), (e: unknown) => e instanceof HearthError && e.kind === 'internal');
});

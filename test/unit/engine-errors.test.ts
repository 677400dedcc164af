import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHearthError } from '../../src/engine/http/errors.js';
import { HearthError } from '../../src/errors.js';

test('errors map by class and marker, never by message text', () => {
  assert.equal(toHearthError(Object.assign(new SyntaxError('x'), { type: 'entity.parse.failed', status: 400 })).status, 400);
  assert.equal(toHearthError(Object.assign(new Error('x'), { type: 'entity.too.large', status: 413 })).status, 413);
  const v = toHearthError({ status: 400, errors: [{ path: '/body/options/temperature', message: 'must be number' }] });
  assert.equal(v.status, 400);
  assert.equal(v.message, 'options.temperature: must be number');
  const kept = new HearthError('conflict', 'busy');
  assert.equal(toHearthError(kept), kept);
  const internal = toHearthError(new Error('secret path /etc/x'));
  assert.equal(internal.status, 500);
  assert.equal(internal.message, 'internal error', 'internal details are not shown to clients');
});

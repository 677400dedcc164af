import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../src/http/json-body.js';

const nested = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown;

test('nesting depth counts objects and arrays, not scalars', () => {
  assert.equal(nestsDeeperThan('x', 0), false);
  assert.equal(nestsDeeperThan(null, 0), false);
  assert.equal(nestsDeeperThan({}, 0), true);
  assert.equal(nestsDeeperThan({ a: 1, b: [1, 2] }, 2), false);
  assert.equal(nestsDeeperThan({ a: 1, b: [1, [2]] }, 2), true);
  assert.equal(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH), false);
  assert.equal(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH), true);
});

test('a chat and a realistic structured-output schema are well within the bound', () => {
  let schema: unknown = { type: 'string' };
  for (let i = 0; i < 10; i++) schema = { type: 'object', properties: { a: schema }, required: ['a'] };
  const body = { model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'n', schema } } };
  assert.equal(nestsDeeperThan(body, MAX_JSON_DEPTH), false);
});

test('a body far deeper than the stack is walked without overflowing it', () => {
  assert.equal(nestsDeeperThan(nested(200_000), MAX_JSON_DEPTH), true);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHearthError } from '../../src/http/error-mapping.js';
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

test("body-parser's failures: 415 for what it cannot decode, 400 for a corrupt body, client_closed for a hang-up", () => {
  const charset = toHearthError(Object.assign(new Error('x'), { type: 'charset.unsupported', status: 415, expose: true, charset: 'latin1' }));
  assert.deepEqual([charset.status, charset.code], [415, 'unsupported_charset']);
  assert.match(charset.message, /"latin1"/);
  const encoding = toHearthError(Object.assign(new Error('x'), { type: 'encoding.unsupported', status: 415, expose: true, encoding: 'x-\u0000evil' }));
  assert.deepEqual([encoding.status, encoding.code], [415, 'unsupported_content_encoding']);
  assert.match(encoding.message, /"x-\?evil"/, 'a control character from the header is not echoed');
  // What body-parser passes on for a corrupt gzip body: zlib's error, given the status 400.
  const zlib = toHearthError(Object.assign(new Error('incorrect header check'), { code: 'Z_DATA_ERROR', errno: -3, status: 400, statusCode: 400, expose: true }));
  assert.deepEqual([zlib.status, zlib.code], [400, 'invalid_compressed_body']);
  const hangUp = toHearthError(Object.assign(new Error('request aborted'), { type: 'request.aborted', code: 'ECONNABORTED', status: 400, expose: true }));
  assert.deepEqual([hangUp.kind, hangUp.code], ['client_closed', 'client_closed']);
  const reset = toHearthError(Object.assign(new Error('aborted'), { code: 'ECONNRESET', status: 400, expose: true }));
  assert.equal(reset.kind, 'client_closed');
  const size = toHearthError(Object.assign(new Error('x'), { type: 'request.size.invalid', status: 400, expose: true }));
  assert.deepEqual([size.status, size.code], [400, 'invalid_content_length']);
  // A server-side failure of the reader (expose false, status 500) stays internal.
  assert.equal(toHearthError(Object.assign(new Error('x'), { type: 'stream.not.readable', status: 500, expose: false })).status, 500);
});

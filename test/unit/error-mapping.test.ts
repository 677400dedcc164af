import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toHearthError } from '../../src/http/error-mapping.js';
import { HearthError, type ErrorKind } from '../../src/errors.js';

// toHearthError maps by class and marker (a validator's status and list, body-parser's `type`,
// a stream's `code`, zlib's `errno`), never by message text. The thrown things below have the
// shapes those libraries throw.

/** What a client sees of a mapped error. */
const seen = (e: HearthError) => ({ kind: e.kind, status: e.status, code: e.code });
const expect = (kind: ErrorKind, status: number, code: string | undefined) => ({ kind, status, code });

/** An http-errors error as body-parser passes it on. */
const httpError = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);

describe('toHearthError', () => {
  it('returns a HearthError as it is', () => {
    const kept = new HearthError('conflict', 'busy', { code: 'busy' });
    assert.equal(toHearthError(kept), kept);
  });

  describe("express-openapi-validator's errors", () => {
    it('400: invalid_request naming each field, without the body/query/params prefix', () => {
      const e = toHearthError({
        status: 400,
        errors: [
          { path: '/body/options/temperature', message: 'must be number' },
          { path: '/query/period', message: 'must match pattern' },
          { path: 'params/id' },
          { path: '/body', message: 'must have required property model' },
        ],
      });
      assert.deepEqual(seen(e), expect('invalid_request', 400, 'invalid_request'));
      assert.equal(e.message, 'options.temperature: must be number; period: must match pattern; id: invalid; body: must have required property model');
    });

    it('400 with no details: a generic message', () => {
      assert.equal(toHearthError({ status: 400, errors: [] }).message, 'invalid request');
    });

    it('404, 405 and 413 keep their status, with the engine-compatible messages', () => {
      const notFound = toHearthError({ status: 404, errors: [{ path: '/x', message: 'not found' }] });
      assert.deepEqual(seen(notFound), expect('not_found', 404, 'route_not_found'));
      assert.equal(notFound.message, '404 page not found');
      const method = toHearthError({ status: 405, errors: [{ path: '/x', message: 'DELETE method not allowed' }] });
      assert.deepEqual(seen(method), expect('method_not_allowed', 405, 'method_not_allowed'));
      assert.equal(method.message, '405 method not allowed');
      assert.deepEqual(seen(toHearthError({ status: 413, errors: [] })), expect('payload_too_large', 413, 'body_too_large'));
    });
  });

  describe("body-parser's failures by type", () => {
    const cases: Array<[string, Record<string, unknown>, ReturnType<typeof expect>]> = [
      ['entity.parse.failed', { status: 400, expose: true }, expect('invalid_request', 400, 'invalid_json')],
      ['entity.too.large', { status: 413, expose: true }, expect('payload_too_large', 413, 'body_too_large')],
      ['charset.unsupported', { status: 415, expose: true, charset: 'latin1' }, expect('unsupported_media_type', 415, 'unsupported_charset')],
      ['encoding.unsupported', { status: 415, expose: true, encoding: 'compress' }, expect('unsupported_media_type', 415, 'unsupported_content_encoding')],
      ['request.aborted', { status: 400, expose: true, code: 'ECONNABORTED' }, expect('client_closed', 499, 'client_closed')],
      ['request.size.invalid', { status: 400, expose: true }, expect('invalid_request', 400, 'invalid_content_length')],
      // A type body-parser may add later: still the client's body, never a 500.
      ['entity.verify.failed', { status: 403, expose: true }, expect('invalid_request', 400, 'invalid_body')],
    ];
    for (const [type, fields, want] of cases) {
      it(`${type} → ${want.status} ${want.code}`, () => {
        assert.deepEqual(seen(toHearthError(httpError('x', { type, ...fields }))), want);
      });
    }

    it('the charset and encoding are echoed short and printable only', () => {
      const charset = toHearthError(httpError('x', { type: 'charset.unsupported', status: 415, expose: true, charset: 'latin1' }));
      assert.match(charset.message, /"latin1"/);
      const encoding = toHearthError(httpError('x', { type: 'encoding.unsupported', status: 415, expose: true, encoding: 'x-\u0000evil' }));
      assert.match(encoding.message, /"x-\?evil"/, 'a control character from the header is not echoed');
      const long = toHearthError(httpError('x', { type: 'encoding.unsupported', status: 415, expose: true, encoding: 'a'.repeat(500) }));
      assert.match(long.message, new RegExp(`"${'a'.repeat(40)}"`), 'at most 40 characters of the header');
    });

    it('an entity.* type is the client body even without a status', () => {
      assert.equal(toHearthError({ type: 'entity.parse.failed' }).code, 'invalid_json');
    });
  });

  describe('untyped read failures (a stream error while body-parser read)', () => {
    it("zlib's errno: the body could not be decompressed (400)", () => {
      const e = toHearthError(httpError('incorrect header check', { code: 'Z_DATA_ERROR', errno: -3, status: 400, statusCode: 400, expose: true }));
      assert.deepEqual(seen(e), expect('invalid_request', 400, 'invalid_compressed_body'));
      assert.match(e.message, /incorrect header check/, "the decoder's reason is the client's to see");
    });

    for (const code of ['ECONNRESET', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']) {
      it(`a hang-up (${code}) is client_closed`, () => {
        assert.deepEqual(seen(toHearthError(httpError('aborted', { code, status: 400, expose: true }))), expect('client_closed', 499, 'client_closed'));
      });
    }

    it('another exposed 4xx keeps its status class, with its own message', () => {
      assert.deepEqual(seen(toHearthError(httpError('too big', { status: 413, expose: true }))), expect('payload_too_large', 413, 'invalid_body'));
      assert.deepEqual(seen(toHearthError(httpError('bad type', { status: 415, expose: true }))), expect('unsupported_media_type', 415, 'invalid_body'));
      const other = toHearthError(httpError('unreadable', { status: 400, expose: true }));
      assert.deepEqual(seen(other), expect('invalid_request', 400, 'invalid_body'));
      assert.equal(other.message, 'unreadable');
    });
  });

  describe('anything else is internal, its details kept from the client', () => {
    const internal: Array<[string, unknown]> = [
      ['a plain Error', new Error('secret path /etc/x')],
      ['a TypeError', new TypeError('cannot read properties of undefined')],
      ['a reader failure of the server (expose false, 500)', httpError('stream is not readable', { type: 'stream.not.readable', status: 500, expose: false })],
      ['a 4xx not marked exposable', httpError('secret', { status: 400, expose: false })],
      ['an exposed 5xx', httpError('secret', { status: 502, expose: true })],
      ['a string', 'secret string'],
      ['null', null],
      ['undefined', undefined],
      ['an object with a non-numeric status', { status: '400', errors: [] }],
    ];
    for (const [name, thrown] of internal) {
      it(name, () => {
        const e = toHearthError(thrown);
        assert.deepEqual(seen(e), expect('internal', 500, undefined));
        assert.equal(e.message, 'internal error');
        assert.equal(e.cause, thrown, 'the original stays as the cause, for the log');
      });
    }
  });
});

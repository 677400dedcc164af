import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { backendError } from '../../src/backend/backend-errors.js';
import { BackendTimeoutError, type BackendTransport } from '../../src/backend/backend-transport.js';
import { BackendClient } from '../../src/backend/backend-client.js';
import { clientClosed, HearthError, type ErrorKind } from '../../src/errors.js';

// How a failed backend call reaches the gateway's callers. The errors are built as the ollama
// client and Node throw them; no socket is opened.

type ResponseErrorClass = new (error: string, status_code: number) => Error;

/**
 * The ollama client's ResponseError. The package does not export it, so one call through the
 * real client, answered 418 by an injected fetch, yields an instance and so its class: if a
 * release renamed `status_code`, these tests would fail instead of passing on a guessed shape.
 */
async function ollamaResponseError(): Promise<ResponseErrorClass> {
  const answer418 = async () => new Response(JSON.stringify({ error: 'teapot' }), { status: 418, headers: { 'content-type': 'application/json' } });
  const client = new Ollama({ host: 'http://127.0.0.1:9', fetch: answer418 as typeof fetch });
  const err = await client.list().then(
    () => assert.fail('a 418 resolved'),
    (e: unknown) => e,
  );
  assert.equal((err as { status_code?: unknown }).status_code, 418, "the client's error carries the status as status_code");
  return (err as Error).constructor as ResponseErrorClass;
}

const seen = (e: HearthError) => ({ kind: e.kind, status: e.status, code: e.code, retryAfterS: e.retryAfterS });
const expect = (kind: ErrorKind, status: number, code: string, retryAfterS?: number) => ({ kind, status, code, retryAfterS });

/** What node:http rejects with when nothing listens on the backend's port. */
const connectionRefused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:11434'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '127.0.0.1', port: 11434 });

describe('backendError', () => {
  let ResponseError: ResponseErrorClass;
  before(async () => {
    ResponseError = await ollamaResponseError();
  });

  describe('an error status from the backend (ResponseError)', () => {
    it('404 for a named model: model_not_found, naming the model', () => {
      const e = backendError(new ResponseError('model "llama9" not found, try pulling it first', 404), 'llama9');
      assert.deepEqual(seen(e), expect('not_found', 404, 'model_not_found'));
      assert.equal(e.message, 'model "llama9" not found');
    });

    it('404 on a call that names no model (list, unload): the backend failed, not "model not found"', () => {
      const err = new ResponseError('404 page not found', 404);
      const e = backendError(err);
      assert.deepEqual(seen(e), expect('internal', 500, 'backend_error'));
      assert.equal(e.cause, err);
    });

    it("400: backend_rejected, with the backend's reason", () => {
      const e = backendError(new ResponseError('invalid format: expected "json" or a JSON schema', 400), 'm');
      assert.deepEqual(seen(e), expect('invalid_request', 400, 'backend_rejected'));
      assert.equal(e.message, 'the backend refused the request: invalid format: expected "json" or a JSON schema');
    });

    for (const status of [429, 503]) {
      it(`${status}: backend_busy, retry after 2 s`, () => {
        const e = backendError(new ResponseError('server busy, please try again.  maximum pending requests exceeded', status), 'm');
        assert.deepEqual(seen(e), expect('unavailable', 503, 'backend_busy', 2));
      });
    }

    for (const status of [401, 403, 405, 413, 500, 502, 504]) {
      it(`${status}: backend_error, internal, its text kept from the client`, () => {
        const err = new ResponseError(`secret detail ${status}`, status);
        const e = backendError(err, 'm');
        assert.deepEqual(seen(e), expect('internal', 500, 'backend_error'));
        assert.doesNotMatch(e.message, /secret/);
        assert.equal(e.cause, err, 'the original stays as the cause, for the log');
      });
    }
  });

  it('backend.request_timeout ran out: backend_timeout, naming the setting and its seconds', () => {
    const err = new BackendTimeoutError(1500);
    const e = backendError(err, 'm');
    assert.deepEqual(seen(e), expect('unavailable', 503, 'backend_timeout', 5));
    assert.equal(e.message, 'the model backend did not finish within backend.request_timeout (1.5 s)');
    assert.equal(e.cause, err);
  });

  it('an abort without a reason of ours (AbortError): client_aborted', () => {
    for (const err of [new DOMException('This operation was aborted', 'AbortError'), Object.assign(new Error('aborted'), { name: 'AbortError' })]) {
      assert.deepEqual(seen(backendError(err, 'm')), expect('invalid_request', 400, 'client_aborted'));
    }
  });

  it("a HearthError passes as it is: the client_closed reason of a caller that went away, the client's own refusals", () => {
    const gone = clientClosed();
    assert.equal(backendError(gone, 'm'), gone);
    const down = new HearthError('unavailable', 'down', { code: 'backend_unavailable' });
    assert.equal(backendError(down), down);
  });

  describe('anything else: the backend is not reachable (503, retry after 5 s)', () => {
    const unreachable: Array<[string, unknown]> = [
      ['connection refused', connectionRefused()],
      ['a connection reset mid-response', Object.assign(new Error('the backend closed the connection before the response was complete'), { code: 'ECONNRESET' })],
      ['a host that does not resolve', Object.assign(new Error('getaddrinfo ENOTFOUND backend'), { code: 'ENOTFOUND' })],
      ['a stream that ended without its last line', new Error('Did not receive done or success response in stream.')],
      ['a TypeError', new TypeError('fetch failed')],
      ['a string', 'socket hang up'],
      ['null', null],
      ['undefined', undefined],
      ['a status that is not a number', { status_code: '404' }],
    ];
    for (const [name, err] of unreachable) {
      it(name, () => {
        const e = backendError(err, 'm');
        assert.deepEqual(seen(e), expect('unavailable', 503, 'backend_unavailable', 5));
        assert.equal(e.message, 'the model backend is not reachable');
      });
    }
  });
});

describe('BackendClient maps its failures', () => {
  /** A transport that fails every call the way the given error says; it opens no socket. */
  const failingWith = (err: unknown): BackendTransport => ({ fetch: () => Promise.reject(err), close() {} });
  const clients: BackendClient[] = [];
  const client = (up: boolean, err: unknown = new Error('unused')) => {
    const c = new BackendClient({ url: 'http://127.0.0.1:9', isUp: () => up }, { transport: failingWith(err) });
    clients.push(c);
    return c;
  };
  after(() => clients.forEach((c) => c.close()));

  it('a backend marked down refuses at once: backend_unavailable, whatever the call', async () => {
    const down = client(false);
    const calls: Array<() => Promise<unknown>> = [
      () => down.chat('m', [{ role: 'user', content: 'hi' }], {}),
      () => down.openChatStream('m', [{ role: 'user', content: 'hi' }], {}),
      () => down.generate('m', 'hi', undefined, {}),
      () => down.models(),
      () => down.show('m'),
      () => down.unloadAll(),
      () => down.createModel({ model: 'm', from: 'base' }),
      () => down.deleteModel('m'),
    ];
    for (const call of calls) await assert.rejects(call(), { name: 'HearthError', kind: 'unavailable', code: 'backend_unavailable', retryAfterS: 5 });
  });

  it("what the transport rejects with comes out mapped, through the ollama client's calls", async () => {
    await assert.rejects(client(true, connectionRefused()).chat('m', [{ role: 'user', content: 'hi' }], {}), { kind: 'unavailable', code: 'backend_unavailable' });
    await assert.rejects(client(true, new BackendTimeoutError(2000)).openChatStream('m', [{ role: 'user', content: 'hi' }], {}), { kind: 'unavailable', code: 'backend_timeout' });
    await assert.rejects(client(true, new DOMException('This operation was aborted', 'AbortError')).generate('m', 'hi', undefined, {}), { code: 'client_aborted' });
    const gone = clientClosed();
    await assert.rejects(client(true, gone).show('m'), (err: unknown) => err === gone);
  });
});

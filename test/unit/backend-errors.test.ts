import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BackendResponseError, backendError, rejectErrorAnswer } from '../../src/backend/backend-errors.js';
import { BackendTimeoutError, type BackendResponse, type BackendTransport } from '../../src/backend/backend-transport.js';
import { BackendClient } from '../../src/backend/backend-client.js';
import { clientClosed, HearthError, type ErrorKind } from '../../src/errors.js';

// How a failed backend call reaches the gateway's callers. The errors are built as the backend
// client's fetch and Node throw them; no socket is opened.

const seen = (e: HearthError) => ({ kind: e.kind, status: e.status, code: e.code, retryAfterS: e.retryAfterS });
const expect = (kind: ErrorKind, status: number, code: string, retryAfterS?: number) => ({ kind, status, code, retryAfterS });

/** What node:http rejects with when nothing listens on the backend's port. */
const connectionRefused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:11434'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '127.0.0.1', port: 11434 });

/** An answer as the backend sends it; fetch's Response has every member the client reads. */
const answer = (status: number, body: string, type = 'application/json') => new Response(body, { status, headers: { 'content-type': type } });

describe('backendError', () => {
  const overflow = "This model's maximum context length is 256 tokens. However, your messages resulted in 400 tokens. Please reduce the length of the messages.";

  describe('an error status from the backend (BackendResponseError)', () => {
    it('400 context_length_exceeded: kept, with the backend\'s message and the param the caller names', () => {
      const err = new BackendResponseError(400, overflow, 'context_length_exceeded');
      const e = backendError(err, 'm', 'messages');
      assert.deepEqual(seen(e), expect('invalid_request', 400, 'context_length_exceeded'));
      assert.equal(e.message, overflow);
      assert.equal(e.param, 'messages');
      assert.equal(e.cause, err);
      assert.equal(backendError(err, 'm').param, undefined, 'no param when the caller names none');
    });

    it('the code counts only on a 400: a 500 that says context_length_exceeded is the backend failing', () => {
      assert.deepEqual(seen(backendError(new BackendResponseError(500, overflow, 'context_length_exceeded'), 'm', 'messages')), expect('internal', 500, 'backend_error'));
    });

    it("a 400 with another code (the engine's input_too_long): backend_rejected, as any 400", () => {
      const e = backendError(new BackendResponseError(400, 'input[0] length (9000 tokens) exceeds the context length (2048)', 'input_too_long'), 'm');
      assert.deepEqual(seen(e), expect('invalid_request', 400, 'backend_rejected'));
      assert.equal(e.param, undefined);
    });

    it('404 for a named model: model_not_found, naming the model', () => {
      const e = backendError(new BackendResponseError(404, 'model "llama9" not found, try pulling it first', undefined), 'llama9');
      assert.deepEqual(seen(e), expect('not_found', 404, 'model_not_found'));
      assert.equal(e.message, 'model "llama9" not found');
    });

    it('404 on a call that names no model (list, unload): the backend failed, not "model not found"', () => {
      const err = new BackendResponseError(404, '404 page not found', undefined);
      const e = backendError(err);
      assert.deepEqual(seen(e), expect('internal', 500, 'backend_error'));
      assert.equal(e.cause, err);
    });

    it("400: backend_rejected, with the backend's reason", () => {
      const e = backendError(new BackendResponseError(400, 'invalid format: expected "json" or a JSON schema', undefined), 'm');
      assert.deepEqual(seen(e), expect('invalid_request', 400, 'backend_rejected'));
      assert.equal(e.message, 'the backend refused the request: invalid format: expected "json" or a JSON schema');
    });

    for (const status of [429, 503]) {
      it(`${status}: backend_busy, retry after 2 s`, () => {
        const e = backendError(new BackendResponseError(status, 'server busy, please try again.  maximum pending requests exceeded', undefined), 'm');
        assert.deepEqual(seen(e), expect('unavailable', 503, 'backend_busy', 2));
      });
    }

    for (const status of [401, 403, 405, 413, 500, 502, 504]) {
      it(`${status}: backend_error, internal, its text kept from the client`, () => {
        const err = new BackendResponseError(status, `secret detail ${status}`, undefined);
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

  /** A transport that answers every call with `res` (fetch's Response: the members the client reads) and keeps the bodies sent. */
  const answering = (res: () => Response, sent: unknown[]): BackendTransport => ({
    fetch: async (_input, init) => {
      sent.push(JSON.parse(String(init?.body)));
      return res() as unknown as BackendResponse;
    },
    close() {},
  });

  it("an error answer keeps the backend's code through the ollama client, streamed or not; chat and generation ask not to truncate", async () => {
    const sent: unknown[] = [];
    const overflow = () => answer(400, JSON.stringify({ error: "This model's maximum context length is 256 tokens. However, your prompt resulted in 300 tokens.", code: 'context_length_exceeded' }));
    const c = new BackendClient({ url: 'http://127.0.0.1:9', isUp: () => true }, { transport: answering(overflow, sent) });
    clients.push(c);
    const messages = [{ role: 'user' as const, content: 'hi' }];
    const refused = (param: string) => ({ name: 'HearthError', kind: 'invalid_request', code: 'context_length_exceeded', param, message: /maximum context length is 256 tokens/ });
    await assert.rejects(c.chat('m', messages, {}), refused('messages'));
    await assert.rejects(c.openChatStream('m', messages, {}), refused('messages'));
    await assert.rejects(c.generate('m', 'hi', undefined, {}), refused('prompt'));
    await assert.rejects(c.openGenerateStream('m', 'hi', undefined, {}), refused('prompt'));
    assert.equal(sent.length, 4);
    for (const body of sent) assert.equal((body as { truncate?: unknown }).truncate, false);
  });
});

describe('rejectErrorAnswer', () => {
  it('a success passes through unread', async () => {
    const res = answer(200, '{"ok":true}');
    assert.equal(await rejectErrorAnswer(res), res);
    assert.equal(res.bodyUsed, false);
  });

  it("Ollama's error body: its error as the message, the engine's code beside it", async () => {
    await assert.rejects(rejectErrorAnswer(answer(400, JSON.stringify({ error: 'too long', code: 'context_length_exceeded' }))), (e: unknown) => {
      assert.ok(e instanceof BackendResponseError);
      assert.deepEqual({ status: e.status, message: e.message, code: e.code }, { status: 400, message: 'too long', code: 'context_length_exceeded' });
      return true;
    });
    await assert.rejects(rejectErrorAnswer(answer(404, JSON.stringify({ error: "model 'x' not found" }))), { status: 404, message: "model 'x' not found", code: undefined });
  });

  it('a body that is not Ollama\'s: its text, or the status line when there is none; a code that is not a string is no code', async () => {
    await assert.rejects(rejectErrorAnswer(answer(502, 'Bad Gateway\n', 'text/plain')), { status: 502, message: 'Bad Gateway', code: undefined });
    await assert.rejects(rejectErrorAnswer(new Response('', { status: 500, statusText: 'Internal Server Error' })), { status: 500, message: 'Error 500: Internal Server Error' });
    await assert.rejects(rejectErrorAnswer(answer(400, JSON.stringify({ error: 'bad', code: 7 }))), { status: 400, message: 'bad', code: undefined });
    await assert.rejects(rejectErrorAnswer(answer(400, 'null')), { status: 400, message: 'null', code: undefined });
  });
});

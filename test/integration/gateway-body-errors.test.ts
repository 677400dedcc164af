// Bodies and headers the daemon cannot read are the client's fault: 4xx with the error object
// and a code, never a 500 or a stack. A client that hangs up mid-body is an info line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { RawClient, type RawResponse } from '../helpers/raw-http.js';

const MODEL = 'hearth-demo';
const chat = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });

interface ErrorBody {
  error: { message: string; type: string; code: string };
}

function assertError(status: number, text: string, expected: { status: number; code: string; message: RegExp }, what: string) {
  assert.equal(status, expected.status, `${what}: ${status} ${text}`);
  const e = JSON.parse(text) as ErrorBody;
  assert.equal(e.error.code, expected.code, `${what}: ${text}`);
  assert.equal(e.error.type, 'invalid_request_error', `${what}: ${text}`);
  assert.match(e.error.message, expected.message, `${what}: ${text}`);
  assert.doesNotMatch(text, /at .*\.js:\d+/, `${what}: no stack`);
}

describe('gateway: bodies and headers it cannot read', () => {
  let d: DaemonProcess;
  let key: string;
  before(async () => {
    d = await startDaemonProcess();
    key = (await d.keyFor('paid_chat')).key;
  });
  after(async () => d?.stop());

  test('a charset other than UTF-8, an unknown Content-Encoding, a corrupt compressed body, a body nested too deep: 415 or 400 with a code', async () => {
    const corrupt = gzipSync(chat);
    corrupt.fill(0xff, 10, 20);
    let deep = '{"type":"string"}';
    for (let i = 0; i < 100; i++) deep = `{"type":"object","properties":{"a":${deep}}}`;
    const cases: Array<{ what: string; headers: Record<string, string>; body: string | Buffer; status: number; code: string; message: RegExp }> = [
      { what: 'charset=latin1', headers: { 'content-type': 'application/json; charset=latin1' }, body: chat, status: 415, code: 'unsupported_charset', message: /"latin1".*UTF-8/ },
      { what: 'charset=utf-16', headers: { 'content-type': 'application/json; charset=utf-16' }, body: chat, status: 400, code: 'invalid_json', message: /JSON/ },
      { what: 'Content-Encoding: x-unknown', headers: { 'content-encoding': 'x-unknown' }, body: chat, status: 415, code: 'unsupported_content_encoding', message: /x-unknown/ },
      { what: 'Content-Encoding: gzip, gzip', headers: { 'content-encoding': 'gzip, gzip' }, body: gzipSync(gzipSync(chat)), status: 415, code: 'unsupported_content_encoding', message: /gzip, gzip/ },
      { what: 'corrupt gzip', headers: { 'content-encoding': 'gzip' }, body: corrupt, status: 400, code: 'invalid_compressed_body', message: /decompressed/ },
      { what: 'not gzip at all', headers: { 'content-encoding': 'gzip' }, body: chat, status: 400, code: 'invalid_compressed_body', message: /decompressed/ },
      { what: 'not deflate', headers: { 'content-encoding': 'deflate' }, body: chat, status: 400, code: 'invalid_compressed_body', message: /decompressed/ },
      { what: 'not brotli', headers: { 'content-encoding': 'br' }, body: chat, status: 400, code: 'invalid_compressed_body', message: /decompressed/ },
      {
        what: 'a format schema 200 levels deep',
        headers: {},
        body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"max_tokens":1,"format":${deep}}`,
        status: 400,
        code: 'json_too_deep',
        message: /deeper than 64/,
      },
    ];
    for (const c of cases) {
      const res = await fetch(`${d.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key, ...c.headers }, body: c.body });
      assertError(res.status, await res.text(), c, c.what);
    }
    // The admin surface reads its bodies the same way.
    const admin = await fetch(`${d.url}/api/admin/workspaces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${d.adminToken}`, 'content-type': 'application/json; charset=iso-8859-1' },
      body: JSON.stringify({ name: 'latin', plan: 'paid_chat' }),
    });
    assertError(admin.status, await admin.text(), { status: 415, code: 'unsupported_charset', message: /"iso-8859-1"/ }, 'admin charset');
  });

  test('a well-formed gzip body is read', async () => {
    const res = await fetch(`${d.url}/api/admin/workspaces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${d.adminToken}`, 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ name: 'zipped', plan: 'paid_chat' })),
    });
    assert.equal(res.status, 201, await res.text());
  });

  test('what Node refuses before any route (bad Content-Length, Transfer-Encoding, chunks, huge headers) gets the error object too', async () => {
    const head = `POST /api/v1/chat HTTP/1.1\r\nHost: hearth\r\nX-API-Key: ${key}\r\n`;
    const cases: Array<{ what: string; request: string; status: number; code: string; message: RegExp }> = [
      { what: 'Content-Length: abc', request: `${head}Content-Length: abc\r\n\r\n${chat}`, status: 400, code: 'malformed_request', message: /Content-Length/ },
      { what: 'two Content-Lengths', request: `${head}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, status: 400, code: 'malformed_request', message: /malformed HTTP request/ },
      { what: 'Content-Length and chunked', request: `${head}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400, code: 'malformed_request', message: /malformed HTTP request/ },
      { what: 'a chunk size that is not hex', request: `${head}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`, status: 400, code: 'malformed_request', message: /malformed HTTP request/ },
      { what: 'Content-Length past 2^53', request: `${head}Content-Length: 99999999999999999999\r\n\r\n`, status: 400, code: 'malformed_request', message: /malformed HTTP request/ },
      { what: '64 KiB of headers', request: `${head}X-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, status: 431, code: 'headers_too_large', message: /headers too large/ },
    ];
    for (const c of cases) {
      const client = await RawClient.connect(d.url);
      try {
        client.write(c.request);
        const res: RawResponse = await client.response(10_000);
        assertError(res.status, res.body, c, c.what);
        assert.equal(res.headers.connection, 'close', c.what);
      } finally {
        await client.destroy();
      }
    }
  });

  test('a client that hangs up mid-body is one info line, without a stack; no error is logged for any of it', async () => {
    const requestId = `hangup-${process.pid}`;
    const client = await RawClient.connect(d.url);
    client.write(`POST /api/v1/chat HTTP/1.1\r\nHost: hearth\r\nX-API-Key: ${key}\r\nX-Request-Id: ${requestId}\r\nContent-Length: 1000\r\n\r\n{"model":`);
    await sleep(200);
    await client.destroy();
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      line = d.logs.find((l) => l.request_id === requestId);
      if (!line) await sleep(100);
    }
    assert.ok(line, 'the access line of the request');
    assert.equal(line.level, 'info');
    assert.equal(line.aborted, true);
    // Give the error handler, which runs once the body read has failed, its chance to log.
    await sleep(500);
    const lines = d.logs.filter((l) => l.request_id === requestId);
    assert.ok(lines.every((l) => l.level === 'info' && !JSON.stringify(l).includes('stack')), JSON.stringify(lines));
    assert.deepEqual(
      d.logs.filter((l) => l.level === 'error' || JSON.stringify(l).includes('"stack"')),
      [],
    );
  });
});

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BackendTimeoutError, createBackendTransport } from '../../src/backend/backend-transport.js';

// The backend client's transport, against a plain local HTTP server (a transport test: no model API).
describe('backend transport', () => {
  let server: Server;
  let base: string;
  const ports: number[] = [];
  const transport = createBackendTransport();
  before(async () => {
    server = createServer((req, res) => {
      ports.push(req.socket.remotePort as number);
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/json') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echo: JSON.parse(body), method: req.method, ua: req.headers['user-agent'], auth: req.headers.authorization }));
        } else if (req.url === '/stream') {
          res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          let n = 0;
          const tick = setInterval(() => {
            res.write(JSON.stringify({ n }) + '\n');
            if (++n === 3) {
              clearInterval(tick);
              res.end();
            }
          }, 5);
        } else if (req.url === '/hang') {
          // Accepted, never answered: a wedged backend.
        } else if (req.url === '/slow') {
          res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          res.write('{"n":0}\n');
          req.socket.on('close', () => undefined);
        } else {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"nope"}');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    transport.close();
    server.closeAllConnections();
    server.close();
  });

  it('sends its own headers with every request, over a caller\'s of the same name (the engine\'s secret)', async () => {
    const own = createBackendTransport({ headers: { authorization: 'Bearer engine-secret-0123456789' } });
    try {
      for (const headers of [{}, { Authorization: 'Bearer someone-else' }, { 'User-Agent': 'test' }] as Array<Record<string, string>>) {
        const r = await own.fetch(`${base}/json`, { method: 'POST', body: '{}', headers });
        assert.equal(((await r.json()) as { auth?: string }).auth, 'Bearer engine-secret-0123456789', JSON.stringify(headers));
      }
    } finally {
      own.close();
    }
  });

  it('posts JSON and reads it back on one kept-alive connection', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await transport.fetch(`${base}/json`, { method: 'POST', body: JSON.stringify({ i }), headers: { 'User-Agent': 'test' } });
      assert.equal(r.ok, true);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('Content-Type'), 'application/json');
      assert.deepEqual(await r.json(), { echo: { i }, method: 'POST', ua: 'test' }, 'no Authorization of its own unless given one');
      assert.throws(() => r.body, /already been read/);
    }
    assert.equal(ports.at(-1), ports.at(-2), 'the second request reused the socket');
  });

  it('reports a non-2xx status with its body', async () => {
    const r = await transport.fetch(`${base}/missing`, { method: 'POST', body: '{}' });
    assert.equal(r.ok, false);
    assert.equal(r.status, 404);
    assert.equal(await r.text(), '{"error":"nope"}');
  });

  it('gives the same body stream on every access, as fetch does', async () => {
    const r = await transport.fetch(`${base}/stream`, { method: 'POST', body: '{}' });
    assert.equal(r.body, r.body);
    const reader = r.body.getReader();
    let text = '';
    for (let c = await reader.read(); !c.done; c = await reader.read()) text += Buffer.from(c.value).toString();
    assert.deepEqual(text.trim().split('\n').map((l) => JSON.parse(l).n), [0, 1, 2]);
  });

  it('either signal aborts: before the answer it rejects, after it the body errors', async () => {
    const early = new AbortController();
    early.abort();
    await assert.rejects(transport.fetch(`${base}/json`, { method: 'POST', body: '{}' }, early.signal), { name: 'AbortError' });

    const own = new AbortController();
    const also = new AbortController();
    const r = await transport.fetch(`${base}/slow`, { method: 'POST', body: '{}', signal: own.signal }, also.signal);
    const reader = r.body.getReader();
    assert.equal(Buffer.from((await reader.read()).value as Uint8Array).toString(), '{"n":0}\n');
    also.abort(new Error('client disconnected'));
    await assert.rejects(reader.read(), /client disconnected/);
  });

  it('a deadline bounds the whole exchange: before the answer it rejects, after it the body errors', async () => {
    await assert.rejects(transport.fetch(`${base}/hang`, { method: 'POST', body: '{}' }, undefined, 50), (err: unknown) => {
      assert.ok(err instanceof BackendTimeoutError);
      assert.equal(err.deadlineMs, 50);
      return true;
    });
    const r = await transport.fetch(`${base}/slow`, { method: 'POST', body: '{}' }, undefined, 200);
    const reader = r.body.getReader();
    assert.equal(Buffer.from((await reader.read()).value as Uint8Array).toString(), '{"n":0}\n');
    await assert.rejects(reader.read(), (err: unknown) => err instanceof BackendTimeoutError);
  });

  it('a call that ends in time leaves no deadline timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    for (let i = 0; i < 5; i++) {
      const r = await transport.fetch(`${base}/json`, { method: 'POST', body: '{}' }, undefined, 600_000);
      await r.json();
    }
    const streamed = await transport.fetch(`${base}/stream`, { method: 'POST', body: '{}' }, undefined, 600_000);
    await streamed.text();
    assert.equal(timers(), before);
  });

  it('rejects when nothing listens', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    await assert.rejects(transport.fetch(`http://127.0.0.1:${port}/json`, { method: 'POST', body: '{}' }), { code: 'ECONNREFUSED' });
  });
});

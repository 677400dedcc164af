// Connections that never finish must not hold the daemon: the time to receive a request is
// bounded (limits.receive_timeout), one client's connections are bounded
// (limits.max_connections_per_client), and a refusal sent while the body is still arriving
// closes the connection. Raw sockets on loopback; every wait bounded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { isLocalAddress, RawClient } from '../helpers/raw-http.js';

const PER_CLIENT = 5;
const OTHER_CLIENT = '127.0.0.2';

const errorsIn = (logs: Array<Record<string, unknown>>) => logs.filter((l) => l.level === 'error' || JSON.stringify(l).includes('"stack"'));

describe('gateway: refusals close the connection, and one address has a bound', () => {
  let d: DaemonProcess;
  let key: string;
  const opened: RawClient[] = [];
  const open = async (localAddress?: string) => {
    const c = await RawClient.connect(d.url, localAddress);
    opened.push(c);
    return c;
  };

  before(async () => {
    d = await startDaemonProcess({ env: { HEARTH_LIMITS_MAX_CONNECTIONS_PER_CLIENT: String(PER_CLIENT) } });
    key = (await d.keyFor('paid_chat')).key;
  });
  after(async () => {
    await Promise.all(opened.map((c) => c.destroy()));
    await d?.stop();
  });

  test('a 401 sent while the body still drips closes the connection after it', async () => {
    const c = await open();
    c.write('POST /api/v1/chat HTTP/1.1\r\nHost: hearth\r\nContent-Length: 100000\r\n\r\n{');
    const dripping = c.drip('x', 50);
    const res = await c.response(10_000);
    assert.equal(res.status, 401);
    assert.equal(res.headers.connection, 'close');
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'missing_api_key');
    // Still dripping: the daemon closes anyway (it reads and drops for a moment first, so an
    // honest client sees its answer rather than a reset).
    assert.ok(await c.closedWithin(15_000), 'the daemon closed the connection');
    assert.ok(c.ended, 'the daemon ended its side after the response');
    dripping.stop();
  });

  test('a client still sending a large body gets its 401, then the end of the connection', async () => {
    const c = await open();
    const size = 8 * 1024 * 1024;
    c.write(`POST /api/v1/finetune/datasets HTTP/1.1\r\nHost: hearth\r\nX-API-Key: hth_nope_nope\r\nContent-Length: ${size}\r\n\r\n`);
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    for (let sent = 0; sent < size && !c.closed; sent += chunk.length) {
      c.write(chunk);
      await sleep(1);
    }
    const res = await c.response(10_000);
    assert.equal(res.status, 401);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'invalid_api_key');
    assert.ok(await c.endedWithin(15_000), 'the daemon ended the connection');
  });

  test(`past ${PER_CLIENT} connections from one address, new ones are closed; other clients are still answered`, async (t) => {
    if (!(await isLocalAddress(OTHER_CLIENT))) return t.skip(`${OTHER_CLIENT} is not a local address here`);
    const held: RawClient[] = [];
    for (let i = 0; i < PER_CLIENT; i++) {
      const c = await open(OTHER_CLIENT);
      // An answered request shows the daemon accepted (and counted) the connection...
      c.write('GET /api/v1/health HTTP/1.1\r\nHost: hearth\r\n\r\n');
      assert.equal((await c.response(10_000)).status, 200);
      // ...which then drips a request without a key that never finishes its headers.
      c.write('POST /api/v1/chat HTTP/1.1\r\nHost: hearth\r\nContent-Length: 100000\r\n');
      c.drip('X-Drip: a\r\n', 100);
      held.push(c);
    }
    for (let i = 0; i < 3; i++) {
      const extra = await open(OTHER_CLIENT);
      extra.write('GET /api/v1/health HTTP/1.1\r\nHost: hearth\r\n\r\n');
      assert.ok(await extra.endedWithin(10_000), `extra connection ${i + 1} is closed`);
      assert.equal(extra.received, '', 'and answered nothing');
    }
    const health = await fetch(`${d.url}/api/v1/health`);
    assert.equal(health.status, 200, 'another address is still answered');
    assert.ok(
      held.every((c) => !c.closed && !c.ended),
      'the connections within the bound stay open (until the receive timeout closes them)',
    );

    // Once one of them is gone, that address may connect again.
    await held[0]!.destroy();
    let answered = false;
    for (let attempt = 0; attempt < 20 && !answered; attempt++) {
      const again = await open(OTHER_CLIENT);
      again.write('GET /api/v1/health HTTP/1.1\r\nHost: hearth\r\n\r\n');
      answered = await again.response(5_000).then(
        (r) => r.status === 200,
        () => false,
      );
      await again.destroy();
      if (!answered) await sleep(100);
    }
    assert.ok(answered, 'a new connection is accepted once the address is below its bound');
  });

  test('none of it is an error with a stack in the log', () => {
    assert.deepEqual(errorsIn(d.logs), []);
  });

});

// Its own daemon: a 1 s receive timeout would also close the connections held above.
describe('gateway: limits.receive_timeout', () => {
  let d: DaemonProcess;
  let key: string;
  const opened: RawClient[] = [];
  const open = async (localAddress?: string) => {
    const c = await RawClient.connect(d.url, localAddress);
    opened.push(c);
    return c;
  };

  before(async () => {
    d = await startDaemonProcess({ env: { HEARTH_LIMITS_RECEIVE_TIMEOUT: '1s' } });
    key = (await d.keyFor('paid_chat')).key;
  });
  after(async () => {
    await Promise.all(opened.map((c) => c.destroy()));
    await d?.stop();
  });

  test('a request whose body never reaches its Content-Length: 408 once limits.receive_timeout passes, and closed', async () => {
    const c = await open();
    c.write(`POST /api/v1/chat HTTP/1.1\r\nHost: hearth\r\nX-API-Key: ${key}\r\nContent-Length: 1000\r\n\r\n{"model":`);
    const res = await c.response(20_000);
    assert.equal(res.status, 408);
    const e = JSON.parse(res.body) as { error: { code: string; type: string; message: string } };
    assert.equal(e.error.code, 'request_timeout');
    assert.match(e.error.message, /limits\.receive_timeout/);
    assert.ok(await c.endedWithin(15_000), 'the daemon ended the connection');
  });

  test('headers that never finish: 408 and closed', async () => {
    const c = await open();
    c.write('GET /api/v1/health HTTP/1.1\r\nHost: hearth\r\n');
    const dripping = c.drip('X-Slow: a\r\n', 200);
    const res = await c.response(20_000);
    dripping.stop();
    assert.equal(res.status, 408);
    assert.ok(await c.endedWithin(15_000), 'the daemon ended the connection');
  });

  test('a stream that outlasts limits.receive_timeout is not cut: the bound is on receiving the request', async (t) => {
    // The engine's pid is in health for the admin token only.
    const enginePid = (await d.admin<{ backend: { pid?: number } }>('GET', '/api/v1/health')).body.backend.pid;
    assert.ok(enginePid !== undefined, 'the bundled engine reports its pid to the admin token');
    const res = await fetch(`${d.url}/api/v1/chat/stream`, {
      method: 'POST',
      headers: { 'x-api-key': key },
      body: JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1500, seed: 1 }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('"token"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    if (text.includes('[DONE]')) return t.skip('the stream ended before the engine could be paused');
    // Pausing the engine holds the response open, mid-stream, well past the receive timeout
    // (1 s, checked every 100 ms); its health checks fail once at most, far from a restart.
    process.kill(enginePid, 'SIGSTOP');
    try {
      await sleep(2_500);
    } finally {
      process.kill(enginePid, 'SIGCONT');
    }
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.match(text, /data: \{"done":true/);
    assert.match(text, /data: \[DONE\]/);
  });
  test('none of it is an error with a stack in the log', () => {
    assert.deepEqual(errorsIn(d.logs), []);
  });

});

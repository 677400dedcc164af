// A stop's drain (limits.shutdown_drain) waits for requests in flight, and for nothing else: a
// connection that has no request, whether its client aborted one before any response header (an
// HTTP client's pool then holds a fresh connection to the daemon) or never sent one (a
// preconnect), used to hold the stop until the drain's deadline cut it. The daemon's log says
// which way each stop went: "requests drained", or the connections cut at the deadline.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const drained = (d: DaemonProcess) => d.logs.filter((l) => l.message === 'requests drained').length;
const cut = (d: DaemonProcess) => d.logs.filter((l) => l.message === 'connections cut at limits.shutdown_drain');

/** A dataset upload whose body has begun and never ends: a request the daemon is still reading, with no response yet. */
function slowUpload(d: DaemonProcess, key: string, signal?: AbortSignal): { response: Promise<unknown>; bodyStarted: Promise<void> } {
  let started!: () => void;
  const bodyStarted = new Promise<void>((r) => (started = r));
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"title":"slow","jsonl":"'));
      started();
    },
  });
  const response = fetch(`${d.url}/api/v1/finetune/datasets`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body,
    duplex: 'half',
    signal,
  } as RequestInit);
  return { response, bodyStarted };
}

/** Resolves once the daemon is reading the upload. */
async function uploadArrived(d: DaemonProcess, key: string): Promise<void> {
  // The upload holds the workspace's one upload place from its headers on: a second one is refused with upload_in_progress.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await new Promise<number>((resolve, reject) => {
      const req = request(`${d.url}/api/v1/finetune/datasets`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json', connection: 'close' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{"title":"probe","records":[]}');
    });
    if (r === 429) return;
    if (Date.now() > deadline) throw new Error(`the upload never arrived (last probe: ${r})`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe('daemon stop: the drain waits for requests, not for connections without one', () => {
  let d: DaemonProcess | undefined;
  afterEach(async () => {
    await d?.stop('SIGKILL');
    d = undefined;
  });
  after(async () => d?.stop('SIGKILL'));

  test('a request aborted by its client before any response header: the stop does not wait for the drain deadline', async () => {
    // The default drain (30 s): a connection held to it would show as cut.
    d = await startDaemonProcess();
    const { key } = await d.keyFor('chat_agent_train');
    const abort = new AbortController();
    const upload = slowUpload(d, key, abort.signal);
    await upload.bodyStarted;
    await uploadArrived(d, key);
    abort.abort();
    await assert.rejects(upload.response, { name: 'AbortError' });
    assert.equal(await d.stop('SIGTERM'), 0);
    assert.equal(drained(d), 1, 'the stop ended with the last request');
    assert.deepEqual(cut(d), [], 'no connection was left for the deadline to cut');
  });

  test('a connection that never sent a request does not hold the stop', async () => {
    d = await startDaemonProcess();
    const { port, hostname } = new URL(d.url);
    const idle: Socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => idle.once('connect', resolve).once('error', reject));
    const closedByDaemon = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    idle.on('error', () => undefined);
    assert.equal(await d.stop('SIGTERM'), 0);
    await closedByDaemon;
    assert.equal(drained(d), 1);
    assert.deepEqual(cut(d), []);
  });

  test('a request still in flight at the deadline is cut, and the log says so', async () => {
    d = await startDaemonProcess({ configYaml: 'limits:\n  shutdown_drain: 1s\n' });
    const { key } = await d.keyFor('chat_agent_train');
    const upload = slowUpload(d, key);
    // Cut during the stop: its rejection is awaited after it.
    const outcome = upload.response.then(
      () => 'answered',
      () => 'cut',
    );
    await upload.bodyStarted;
    await uploadArrived(d, key);
    assert.equal(await d.stop('SIGTERM'), 0);
    assert.equal(await outcome, 'cut');
    assert.equal(drained(d), 0);
    assert.deepEqual(
      cut(d).map((l) => l.connections),
      [1],
    );
  });
});

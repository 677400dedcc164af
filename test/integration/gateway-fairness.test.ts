// One workspace cannot take the inference backend from the others: its plan bounds the calls it
// may have in flight, and the bound is enforced before a call reaches the backend's queue.
// (Reproduces issue 16, point 5: one key held both engine slots and the 64-deep queue with 66
// long calls, and every other workspace got 503 backend_busy.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const MODEL = 'hearth-demo';

describe('gateway: concurrent inference calls per workspace', () => {
  let d: DaemonProcess;
  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  const chat = (key: string, maxTokens: number, signal?: AbortSignal) =>
    fetch(`${d.url}/api/v1/chat`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Tell me everything.' }], max_tokens: maxTokens }),
      signal,
    });

  test("past its plan's bound a workspace gets 429 at once; another workspace is served meanwhile", async () => {
    // One place for the trial plan, so that the engine's second slot (engine.parallel 2) is free for the other workspace.
    assert.equal((await d.admin('PATCH', '/api/admin/plans/trial_chat', { max_concurrent: 1 })).status, 200);
    const hog = await d.keyFor('trial_chat');
    const other = await d.keyFor('paid_chat');
    const stop = new AbortController();
    // Long calls: the demo model would generate to its context (tens of seconds on one thread).
    const answered: number[] = [];
    const calls = Array.from({ length: 12 }, () =>
      chat(hog.key, 16384, stop.signal).then(
        async (res) => {
          answered.push(res.status);
          if (res.status === 429) {
            assert.equal(res.headers.get('retry-after'), '1');
            assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'concurrency_limit_exceeded');
          }
        },
        () => undefined, // aborted below
      ),
    );
    for (let i = 0; i < 300 && answered.length < 11; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(answered, Array(11).fill(429), 'all but one refused before reaching the backend');

    const served = await chat(other.key, 2);
    assert.equal(served.status, 200, await served.clone().text());

    stop.abort();
    await Promise.all(calls);
    // The aborted call gives its place back once the daemon sees the connection close.
    let again = 429;
    for (let i = 0; i < 100 && again === 429; i++) {
      const res = await chat(hog.key, 1);
      again = res.status;
      await res.arrayBuffer();
      if (again === 429) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(again, 200, 'the place is free again');
    const usage = (await d.api<{ credits: { used: number }; plan: { max_concurrent: number } }>(hog.key, 'GET', '/usage')).body;
    assert.equal(usage.credits.used, 1, 'refused and aborted calls cost nothing; the last one served cost 1');
    assert.equal(usage.plan.max_concurrent, 1);
  });
});

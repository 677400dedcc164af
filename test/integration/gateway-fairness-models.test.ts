// Fair admission per model (issue 18, fairness): the bundled engine runs engine.parallel
// sequences for each loaded model, so Hearth's slots are per model too. With every slot of one
// model taken and a call waiting for it, a call for a second model is served at once, while the
// waiting call goes on waiting; GET /api/admin/queue shows the two models apart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { streamChat } from '../helpers/stream-chat.js';

const MODEL = 'hearth-demo';
const SECOND = 'hearth-second';
// The engine's default, and limits.backend_slots defaults to it.
const SLOTS = 2;

interface QueueView {
  in_flight: number;
  waiting: number;
  models: Array<{ model: string; slots: number; in_flight: number; waiting: number }>;
}

const body = (model: string, maxTokens: number) => JSON.stringify({ model, messages: [{ role: 'user', content: 'Tell me everything.' }], max_tokens: maxTokens });

describe('gateway: fair admission, a pool of slots per model', () => {
  let d: DaemonProcess;
  before(async () => {
    // The stop does not wait the whole default drain for the long calls it cut. A large context
    // makes the demo model's long calls last (it writes to the end of it), so that they hold the
    // slots for the whole test even on a slow machine.
    d = await startDaemonProcess({ configYaml: 'engine:\n  num_ctx: 16384\nlimits:\n  shutdown_drain: 1s\n' });
  });
  after(async () => d?.stop());

  /** GET /api/admin/queue, asked again for up to 5 s until `ready` holds (the server's side of a call ends as its client reads the end). */
  const queueWhen = async (ready: (q: QueueView) => boolean) => {
    let q: QueueView | undefined;
    for (let i = 0; i < 100; i++) {
      const res = await d.admin<QueueView>('GET', '/api/admin/queue');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      q = res.body;
      if (ready(q)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return q!;
  };
  const chat = (key: string, model: string, maxTokens: number) =>
    fetch(`${d.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: body(model, maxTokens) });
  /** A long streamed chat: resolves once its first token arrived (it holds a slot), with when it `ended` (by itself, or when `signal` aborts). */
  const holdSlot = (key: string, signal: AbortSignal) =>
    new Promise<{ ended: Promise<number> }>((started, failed) => {
      const ended = streamChat(d.url, key, 'hog', 16384, signal, () => started({ ended })).then(
        (c) => (c.firstToken === undefined ? failed(new Error(`no token: ${c.status} ${JSON.stringify(c.error)}`)) : undefined),
        () => undefined,
      ).then(() => performance.now());
    });

  test("a call for a second model is served while the first model's slots are all taken and a call waits for them", async () => {
    const hog = await d.keyFor('enterprise');
    const owner = await d.keyFor('local_agent_train');
    // A model of its own for the engine: a copy (the same manifest) would share hearth-demo's
    // loaded instance, and its sequences; a system prompt makes another manifest.
    const created = await fetch(`${d.url}/ollama/api/create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.key}` },
      body: JSON.stringify({ model: SECOND, from: MODEL, system: 'Be brief.', stream: false }),
    });
    assert.equal(created.status, 200, await created.clone().text());
    // Both models loaded before anything is timed against them.
    for (const [key, model] of [[hog.key, MODEL], [owner.key, SECOND]] as const) {
      const warm = await chat(key, model, 1);
      assert.equal(warm.status, 200, await warm.text());
    }

    const stop = new AbortController();
    const hogEnds = await Promise.all(Array.from({ length: SLOTS }, () => holdSlot(hog.key, stop.signal)));
    let firstHogEnd = Infinity;
    for (const { ended } of hogEnds) void ended.then((t) => (firstHogEnd = Math.min(firstHogEnd, t)));
    const waiting = chat(owner.key, MODEL, 2);
    const queue = await queueWhen((q) => q.waiting > 0);
    assert.deepEqual(queue.models, [{ model: `${MODEL}:latest`, slots: SLOTS, in_flight: SLOTS, waiting: 1 }], JSON.stringify(queue));

    // One pool for every model would hold this call behind the waiting one, until a hog call ends.
    const other = await chat(owner.key, SECOND, 2);
    assert.equal(other.status, 200, await other.clone().text());
    await other.arrayBuffer();
    assert.equal(firstHogEnd, Infinity, `the calls holding ${MODEL}'s slots were still running: nothing freed a slot of it meanwhile`);
    const unsettled = Symbol('waiting');
    assert.equal(await Promise.race([waiting, Promise.resolve(unsettled)]), unsettled, `the call for ${MODEL} still waits: it was passed, not served`);
    const after = await queueWhen((q) => q.models.length === 1);
    assert.deepEqual(after.models, [{ model: `${MODEL}:latest`, slots: SLOTS, in_flight: SLOTS, waiting: 1 }], `${SECOND}'s pool is gone once its call ended`);

    stop.abort();
    await Promise.all(hogEnds.map((h) => h.ended));
    const served = await waiting;
    assert.equal(served.status, 200, await served.clone().text());
    await served.arrayBuffer();
    const idle = await queueWhen((q) => q.in_flight === 0);
    assert.deepEqual([idle.in_flight, idle.waiting, idle.models], [0, 0, []]);
  });
});

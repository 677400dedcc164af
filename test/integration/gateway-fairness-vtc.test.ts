// Fair admission to the backend (issue 18, part 5): when every backend slot is taken, calls wait
// in Hearth, one queue per workspace, and the least served workspace goes first (VTC). One
// workspace flooding the engine delays another by about one call, not by the whole flood; two
// workspaces that both keep calls waiting are served alike; the wait is bounded, and a call
// abandoned while it waits leaves the queue having cost nothing. The operator sees the queue at
// GET /api/admin/queue.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { streamChat, type StreamCall } from '../helpers/stream-chat.js';

const MODEL = 'hearth-demo';
// The engine's default: two calls run at once, and limits.backend_slots defaults to it.
const SLOTS = 2;

interface QueueView {
  slots_per_model: number;
  in_flight: number;
  waiting: number;
  max_waiting: number;
  max_waiting_per_workspace: number;
  models: Array<{ model: string; slots: number; in_flight: number; waiting: number }>;
  workspaces: Array<{ workspace_id: string; weight: number; counter: number; in_flight: number; waiting: number }>;
}

/** GET /api/admin/queue with the admin token. */
async function queueView(d: DaemonProcess): Promise<QueueView> {
  const res = await d.admin<QueueView>('GET', '/api/admin/queue');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Workspace ids by name. */
async function workspaceIds(d: DaemonProcess): Promise<Map<string, string>> {
  const res = await d.admin<{ workspaces: Array<{ id: string; name: string }> }>('GET', '/api/admin/workspaces');
  return new Map(res.body.workspaces.map((w) => [w.name, w.id]));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** VTC's measure of what a call was served: a token read counts 1, a token written 2. */
const weighted = (c: StreamCall) => (c.usage ? c.usage.prompt_tokens + 2 * c.usage.completion_tokens : 0);

describe('gateway: fair admission, one workspace flooding', () => {
  let d: DaemonProcess;
  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  test("a second workspace's chat starts within about one call of the flood, and both are then served alike", async (t) => {
    // 32 streams and more in flight from one workspace: its plan must allow them.
    assert.equal((await d.admin('PATCH', '/api/admin/plans/enterprise', { max_concurrent: 64 })).status, 200);
    const a = await d.keyFor('enterprise');
    const b = await d.keyFor('enterprise');
    const flood = 34;
    const longCall = 160;

    // The same call on an idle backend (the first loads the model).
    await streamChat(d.url, b.key, 'b', 2);
    const idle: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await streamChat(d.url, b.key, 'b', 2);
      assert.equal(c.status, 200);
      idle.push(c.firstToken! - c.sent);
    }
    const idleTtft = median(idle);

    // A floods: SLOTS calls run, the rest wait in Hearth.
    const calls: StreamCall[] = [];
    let started = 0;
    let slotsTaken!: () => void;
    const running = new Promise<void>((r) => (slotsTaken = r));
    const onToken = () => {
      if (++started === SLOTS) slotsTaken();
    };
    const aCalls = Array.from({ length: flood }, () => streamChat(d.url, a.key, 'a', longCall, undefined, onToken).then((c) => (calls.push(c), c)));
    await running;
    // B's one call, while A's flood waits.
    let aWaitingAtB = -1;
    const bCall = await streamChat(d.url, b.key, 'b', 2, undefined, (c) => {
      aWaitingAtB = flood - started;
      void c;
    });
    assert.equal(bCall.status, 200, JSON.stringify(bCall.error));
    const busyTtft = bCall.firstToken! - bCall.sent;

    // Then B floods too: both workspaces backlogged.
    const bWindowStart = performance.now();
    const bCalls = Array.from({ length: 16 }, () => streamChat(d.url, b.key, 'b', longCall, undefined, () => started++).then((c) => (calls.push(c), c)));
    const all = await Promise.all([...aCalls, ...bCalls]);
    for (const c of all) assert.equal(c.status, 200, JSON.stringify(c.error));

    // One generation slot's time: how long a call held its slot on average, from the throughput
    // of the whole flood (SLOTS calls at a time, prompt and generation).
    const floodStart = Math.min(...all.map((c) => c.sent));
    const floodEnd = Math.max(...all.map((c) => c.end!));
    const slotTime = ((floodEnd - floodStart) * SLOTS) / all.length;
    const waitedSlots = (busyTtft - idleTtft) / slotTime;
    const detail = `B's first token: idle ${idleTtft.toFixed(0)} ms, under the flood ${busyTtft.toFixed(0)} ms, i.e. ${waitedSlots.toFixed(2)} slot times of ${slotTime.toFixed(0)} ms more; A calls not started yet when B started: ${aWaitingAtB} of ${flood}`;
    t.diagnostic(detail);
    // B went ahead of A's waiting calls: it did not queue behind the flood.
    assert.ok(aWaitingAtB >= flood / 2, detail);
    // B waited about one A call for a slot, where first come, first served would make it wait
    // for the (flood - SLOTS) / SLOTS = 16 slot times of A's queue.
    assert.ok(waitedSlots < 4, detail);

    // While both kept calls waiting, each workspace was served alike: compare what the calls that
    // started in that window were served (from B's flood until the first workspace ran dry).
    const lastStart = (w: string) => Math.max(...all.filter((c) => c.workspace === w).map((c) => c.firstToken!));
    const windowEnd = Math.min(lastStart('a'), lastStart('b'));
    const inWindow = all.filter((c) => c.firstToken! > bWindowStart && c.firstToken! <= windowEnd);
    const servedA = inWindow.filter((c) => c.workspace === 'a').reduce((s, c) => s + weighted(c), 0);
    const servedB = inWindow.filter((c) => c.workspace === 'b').reduce((s, c) => s + weighted(c), 0);
    const largest = Math.max(...all.map(weighted));
    const served = `served while both waited: A ${servedA}, B ${servedB} (largest call ${largest}, ${inWindow.length} calls)`;
    t.diagnostic(served);
    assert.ok(servedA > 4 * largest && servedB > 4 * largest, served);
    assert.ok(Math.abs(servedA - servedB) <= 3 * largest, served);
  });
});

describe('gateway: fair admission, bounds, abandoned calls and the admin view', () => {
  let d: DaemonProcess;
  before(async () => {
    // One call may wait in all: the bound is reached with three calls. The stop does not wait
    // the whole default drain for the connection of the call that hung up.
    d = await startDaemonProcess({ configYaml: 'limits:\n  max_waiting: 1\n  shutdown_drain: 1s\n' });
  });
  after(async () => d?.stop());

  test('past the bound 503 backend_busy with Retry-After; a call abandoned while waiting leaves the queue, charged nothing', async () => {
    const hog = await d.keyFor('enterprise');
    const leaver = await d.keyFor('paid_chat');
    const other = await d.keyFor('paid_chat');
    await streamChat(d.url, hog.key, 'hog', 1);

    // Both slots held by long calls (the demo model writes to its context).
    const stopHog = new AbortController();
    let started = 0;
    let slotsTaken!: () => void;
    const running = new Promise<void>((r) => (slotsTaken = r));
    const hogCalls = Array.from({ length: SLOTS }, () =>
      streamChat(d.url, hog.key, 'hog', 16384, stopHog.signal, () => ++started === SLOTS && slotsTaken()).catch(() => undefined),
    );
    await running;

    // The leaver's call waits; it is the one place.
    const leave = new AbortController();
    const waiting = streamChat(d.url, leaver.key, 'leaver', 2, leave.signal).catch((err: unknown) => err);
    // The operator's view shows it reach the queue, behind the model's slots all taken.
    let queue = await queueView(d);
    for (let i = 0; i < 100 && queue.waiting === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      queue = await queueView(d);
    }
    assert.deepEqual(queue.models, [{ model: `${MODEL}:latest`, slots: SLOTS, in_flight: SLOTS, waiting: 1 }], JSON.stringify(queue));
    assert.deepEqual([queue.slots_per_model, queue.in_flight, queue.waiting, queue.max_waiting, queue.max_waiting_per_workspace], [SLOTS, SLOTS, 1, 1, 64]);
    const ids = await workspaceIds(d);
    const row = (name: string) => queue.workspaces.find((w) => w.workspace_id === ids.get(name));
    assert.deepEqual([row(hog.workspace)?.in_flight, row(hog.workspace)?.waiting], [SLOTS, 0], JSON.stringify(queue.workspaces));
    assert.deepEqual([row(leaver.workspace)?.in_flight, row(leaver.workspace)?.waiting, row(leaver.workspace)?.weight], [0, 1, 1]);
    assert.equal((await fetch(`${d.url}/api/admin/queue`)).status, 401, 'the queue is the operator\'s to see');
    assert.equal((await fetch(`${d.url}/api/admin/queue`, { headers: { authorization: `Bearer ${leaver.key}` } })).status, 401, 'a customer key is not the admin token');
    let refused: StreamCall | undefined;
    for (let i = 0; i < 50 && refused?.status !== 503; i++) {
      refused = await streamChat(d.url, other.key, 'other', 2);
      if (refused.status !== 503) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(refused!.status, 503, 'a second waiting call is past max_waiting');
    assert.equal(refused!.error!.code, 'backend_busy');
    assert.match(refused!.retryAfter ?? '', /^[1-9][0-9]*$/);

    leave.abort();
    assert.ok((await waiting) instanceof Error, 'the client gave up');
    // Its place is free again: the other workspace's call now waits instead of being refused, and
    // it is the one admitted when a slot frees.
    let admitted: Promise<StreamCall> | undefined;
    for (let i = 0; i < 100 && admitted === undefined; i++) {
      const attempt = streamChat(d.url, other.key, 'other', 2);
      const outcome = await Promise.race([attempt, new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 300))]);
      if (outcome === 'waiting') admitted = attempt;
      else if (outcome.status === 503) await new Promise((r) => setTimeout(r, 50));
      else assert.fail(`unexpected ${outcome.status}`);
    }
    assert.ok(admitted, 'the abandoned call left its place');
    stopHog.abort();
    await Promise.all(hogCalls);
    const served = await admitted;
    assert.equal(served.status, 200, JSON.stringify(served.error));
    assert.ok(served.usage, 'served to the end');

    const usage = (await d.api<{ credits: { limit: number; used: number; remaining: number } }>(leaver.key, 'GET', '/usage')).body;
    assert.equal(usage.credits.used, 0, 'the abandoned call cost nothing');
    assert.equal(usage.credits.remaining, usage.credits.limit, 'and holds no reservation');

    // Nothing in flight or waiting any more: the model's pool is gone from the view.
    let idle = await queueView(d);
    for (let i = 0; i < 100 && idle.in_flight > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      idle = await queueView(d);
    }
    assert.deepEqual([idle.in_flight, idle.waiting, idle.models], [0, 0, []]);
  });
});

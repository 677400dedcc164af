// The credit ledger under concurrency, failures, aborts and a daemon killed with SIGKILL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const MODEL = 'hearth-demo';
const chatBody = (maxTokens = 1) => JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens });

async function used(d: DaemonProcess, key: string): Promise<number> {
  const u = (await (await fetch(`${d.url}/api/v1/usage`, { headers: { 'x-api-key': key } })).json()) as { credits: { used: number } };
  return u.credits.used;
}

interface Credits {
  /** Charged in the period: settled calls and calls in flight (reserved, not yet concluded). */
  used: number;
  /** Settled calls, by endpoint. */
  endpoints: Array<{ endpoint: string; calls: number; credits: number }>;
}
const inFlight = (c: Credits) => c.used - c.endpoints.reduce((n, e) => n + e.credits, 0);

/** A workspace's credits, read with the admin token (which no rate limit counts, so it may poll). */
async function creditsOf(d: DaemonProcess, workspace: string): Promise<Credits> {
  const r = await d.admin<{ credits: { used: number }; endpoints: Credits['endpoints'] }>('GET', `/api/admin/workspaces/${workspace}/usage`);
  assert.equal(r.status, 200);
  return { used: r.body.credits.used, endpoints: r.body.endpoints };
}

/** Polls the workspace's credits until `done` holds: waits on the daemon's state, never on a duration. */
async function creditsWhen(d: DaemonProcess, workspace: string, done: (c: Credits) => boolean, what: string): Promise<Credits> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const c = await creditsOf(d, workspace);
    if (done(c)) return c;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('gateway: ledger', () => {
  let d: DaemonProcess;
  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  test('20 credits left, 60 concurrent chats: exactly 20 succeed and 20 are charged', async () => {
    // The ledger is the subject here, not the plan's bound on concurrent calls: all 60 at once.
    assert.equal((await d.admin('PATCH', '/api/admin/plans/paid_chat', { max_concurrent: 100 })).status, 200);
    const { key } = await d.keyFor('paid_chat', { credits: 20 });
    const results = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(`${d.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: chatBody() }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { type: string; code: string } } })),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    assert.equal(ok.length, 20);
    assert.equal(refused.length, 40);
    for (const r of refused) {
      assert.equal(r.body.error?.type, 'insufficient_quota');
      assert.equal(r.body.error?.code, 'credits_exhausted');
    }
    assert.equal(await used(d, key), 20);
  });

  test('calls refused by the model check or the contract charge nothing', async () => {
    const { key } = await d.keyFor('paid_chat', { credits: 100 });
    const unknown = await fetch(`${d.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(unknown.status, 404);
    const bad = await fetch(`${d.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: JSON.stringify({ model: MODEL, messages: [] }) });
    assert.equal(bad.status, 400);
    assert.equal(await used(d, key), 0);
  });

  test('a chat the client gives up on while it generates charges nothing', async () => {
    const { key, workspace } = await d.keyFor('paid_chat', { credits: 100 });
    // 1500 tokens of the demo model, which does not stop early: seconds on the fastest machine.
    // The client leaves as soon as the daemon has the call in flight (its credits reserved).
    const controller = new AbortController();
    const pending = fetch(`${d.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: chatBody(1500), signal: controller.signal }).catch((e: unknown) => e);
    const reserved = await creditsWhen(d, workspace, (c) => inFlight(c) === 1 || c.endpoints.length > 0, 'the chat is in flight');
    assert.deepEqual(reserved, { used: 1, endpoints: [] }, 'in flight, not yet answered');
    controller.abort();
    assert.ok((await pending) instanceof Error, 'the client saw no answer');
    const concluded = await creditsWhen(d, workspace, (c) => inFlight(c) === 0, 'the aborted chat is concluded');
    assert.deepEqual(concluded, { used: 0, endpoints: [] }, 'released, not settled');
  });

  test('a stream the client cuts after its first token is charged its 1 credit, once', async () => {
    const { key, workspace } = await d.keyFor('paid_chat', { credits: 100 });
    const controller = new AbortController();
    const stream = await fetch(`${d.url}/api/v1/chat/stream`, { method: 'POST', headers: { 'x-api-key': key }, body: chatBody(1500), signal: controller.signal });
    assert.equal(stream.status, 200);
    // Read up to the first token event: the contract charges the call from then on.
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('data: {"token"')) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the stream ended before its first token: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    await reader.cancel().catch(() => undefined);
    const concluded = await creditsWhen(d, workspace, (c) => inFlight(c) === 0, 'the cut stream is concluded');
    assert.deepEqual(concluded, { used: 1, endpoints: [{ endpoint: 'POST /chat/stream', calls: 1, credits: 1 }] });
  });

  test('SIGKILL mid-load loses no committed charge; the database checks ok', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'hearth-kill-'));
    let k: DaemonProcess | undefined;
    try {
      k = await startDaemonProcess({ dataDir });
      const { key } = await k.keyFor('paid_chat', { credits: 1000 });
      let succeeded = 0;
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const r = await fetch(`${k!.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: chatBody(2) }).catch(() => undefined);
          if (!r) return;
          if (r.status === 200) succeeded++;
          await r.body?.cancel().catch(() => undefined);
        }
      };
      const workers = Array.from({ length: 6 }, worker);
      while (succeeded < 15) await new Promise((r) => setTimeout(r, 50));
      k.child.kill('SIGKILL');
      stop = true;
      await Promise.all(workers);
      // The kill may already have been reaped while the workers finished.
      if (k.child.exitCode === null && k.child.signalCode === null) await new Promise((r) => k!.child.once('exit', r));
      const db = new Database(join(dataDir, 'hearth.db'));
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      db.close();
      k = await startDaemonProcess({ dataDir });
      const charged = await used(k, key);
      assert.ok(charged >= succeeded, `every answered call stays charged (${charged} ≥ ${succeeded})`);
      assert.ok(charged <= succeeded + 6, 'at most the calls in flight at the kill are charged beyond those answered');
    } finally {
      await k?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

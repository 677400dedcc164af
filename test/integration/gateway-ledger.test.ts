// The credit ledger under concurrency, failures, aborts and a daemon killed with SIGKILL.
import { after, describe, test } from 'node:test';
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

describe('gateway: ledger', () => {
  let d: DaemonProcess | undefined;
  after(async () => d?.stop());

  test('20 credits left, 60 concurrent chats: exactly 20 succeed and 20 are charged', async () => {
    d = await startDaemonProcess();
    // The ledger is the subject here, not the plan's bound on concurrent calls: all 60 at once.
    assert.equal((await d.admin('PATCH', '/api/admin/plans/paid_chat', { max_concurrent: 100 })).status, 200);
    const { key } = await d.keyFor('paid_chat', { credits: 20 });
    const results = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(`${d!.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: chatBody() }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { type: string; code: string } } })),
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

  test('failed and aborted calls charge nothing', async () => {
    const { key } = await d!.keyFor('paid_chat', { credits: 100 });
    const unknown = await fetch(`${d!.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(unknown.status, 404);
    const bad = await fetch(`${d!.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: JSON.stringify({ model: MODEL, messages: [] }) });
    assert.equal(bad.status, 400);
    // A long generation the client gives up on.
    const controller = new AbortController();
    const pending = fetch(`${d!.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: chatBody(1500), signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 400);
    await pending;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await used(d!, key), 0);
    // A stream counts once its first token is sent: aborting one charges at most its 1 credit.
    const streamController = new AbortController();
    const stream = await fetch(`${d!.url}/api/v1/chat/stream`, { method: 'POST', headers: { 'x-api-key': key }, body: chatBody(1500), signal: streamController.signal });
    streamController.abort();
    await stream.body?.cancel().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await used(d!, key)) <= 1);
  });

  test('SIGKILL mid-load loses no committed charge; the database checks ok', async () => {
    await d?.stop();
    const dataDir = await mkdtemp(join(tmpdir(), 'hearth-kill-'));
    try {
      d = await startDaemonProcess({ dataDir });
      const { key } = await d.keyFor('paid_chat', { credits: 1000 });
      let succeeded = 0;
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const r = await fetch(`${d!.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: chatBody(2) }).catch(() => undefined);
          if (!r) return;
          if (r.status === 200) succeeded++;
          await r.body?.cancel().catch(() => undefined);
        }
      };
      const workers = Array.from({ length: 6 }, worker);
      while (succeeded < 15) await new Promise((r) => setTimeout(r, 50));
      d.child.kill('SIGKILL');
      stop = true;
      await Promise.all(workers);
      // The kill may already have been reaped while the workers finished.
      if (d.child.exitCode === null && d.child.signalCode === null) await new Promise((r) => d!.child.once('exit', r));
      const db = new Database(join(dataDir, 'hearth.db'));
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      db.close();
      d = await startDaemonProcess({ dataDir });
      const charged = await used(d, key);
      assert.ok(charged >= succeeded, `every answered call stays charged (${charged} ≥ ${succeeded})`);
      assert.ok(charged <= succeeded + 6, 'at most the calls in flight at the kill are charged beyond those answered');
    } finally {
      await d?.stop();
      d = undefined;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

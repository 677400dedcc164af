// The ledger across processes on one SQLite file: other processes racing for the last credits,
// and one killed with SIGKILL mid-call (test/helpers/ledger-child.ts is the other process).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { integrityCheck, openDatabase } from '../../src/db/database.js';
import { Ledger } from '../../src/domain/ledger.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';

const CHILD = fileURLToPath(new URL('../helpers/ledger-child.js', import.meta.url));
const NOW = '2025-03-15T12:00:00.000Z';

function spawnChild(args: string[]): { child: ChildProcess; lines: AsyncIterableIterator<string> } {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return { child, lines };
}

async function nextLine(lines: AsyncIterableIterator<string>): Promise<string> {
  const { value, done } = await lines.next();
  assert.ok(!done, 'child ended without answering');
  return value;
}

describe('Ledger across processes', () => {
  let d: Domain;
  let ws: string;
  let key: string;
  beforeEach(() => {
    d = openDomain({ now: NOW });
    ws = d.workspaces.create({ name: 'acme', planId: 'trial_chat' }).id;
    key = d.keys.create({ workspaceId: ws, name: 'k' }).record.id;
  });
  afterEach(() => d.close());

  const reserve = (credits: number, endpoint = 'POST /chat', requestId = `req-${Math.random()}`) =>
    d.ledger.reserve({ workspaceId: ws, keyId: key, endpoint, credits, requestId });

  it('several processes racing for the last 20 credits: exactly 20 reservations succeed', async () => {
    const budget = 15_000;
    d.ledger.settle(reserve(budget - 20));
    const children = [0, 1, 2].map(() => spawnChild([d.path, 'race', ws, key, NOW, '20']));
    try {
      for (const c of children) assert.equal(await nextLine(c.lines), 'ready');
      for (const c of children) c.child.stdin!.end('go\n');
      const results = await Promise.all(children.map(async (c) => JSON.parse(await nextLine(c.lines)) as { ok: number; refused: number; other: string[] }));
      for (const c of children) if (c.child.exitCode === null) await once(c.child, 'exit');
      assert.deepEqual(results.flatMap((r) => r.other), []);
      assert.equal(results.reduce((n, r) => n + r.ok, 0), 20, JSON.stringify(results));
      assert.equal(results.reduce((n, r) => n + r.refused, 0), 40);
    } finally {
      for (const c of children) c.child.kill('SIGKILL');
    }
    const u = d.ledger.usage(ws);
    assert.equal(u.used, budget);
    assert.equal(u.remaining, 0);
    assert.equal(u.pending, 0);
    assert.deepEqual(u.byEndpoint, [{ endpoint: 'POST /chat', calls: 21, credits: budget }]);
    assert.equal(d.db.prepare("SELECT count(*) FROM ledger WHERE kind = 'reserve'").pluck().get(), 21);
    assert.deepEqual(d.ledger.usageDiscrepancies(), []);
    assert.deepEqual(integrityCheck(d.db), { ok: true, problems: [] });
  });

  it('after a crash mid-call, releaseDangling refunds the open reservation and keeps settled charges', async () => {
    d.ledger.settle(reserve(100));
    const { child, lines } = spawnChild([d.path, 'crash', ws, key, NOW]);
    const line = await nextLine(lines);
    assert.match(line, /^reserved \d+$/);
    const openId = Number(line.split(' ')[1]);
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.equal(d.ledger.usage(ws).used, 100 + 7 + 11, 'the dead process’s reservation still holds credits');

    // The daemon restarts: a new connection, as at startup.
    d.db.close();
    const db = openDatabase(d.path);
    d.db = db;
    assert.deepEqual(integrityCheck(db), { ok: true, problems: [] });
    const ledger = new Ledger(db, { clock: d.clock, timeZone: 'UTC' });
    const released = ledger.releaseDangling();
    assert.deepEqual(released.map((r) => [r.id, r.credits, r.requestId]), [[openId, 11, 'in-flight-at-crash']]);
    const u = ledger.usage(ws);
    assert.equal(u.used, 107);
    assert.equal(u.pending, 0);
    assert.deepEqual(u.byEndpoint, [
      { endpoint: 'POST /chat', calls: 1, credits: 100 },
      { endpoint: 'POST /finetune/datasets', calls: 1, credits: 7 },
    ]);
    assert.deepEqual(ledger.releaseDangling(), [], 'a second sweep finds nothing');
    assert.deepEqual(ledger.usageDiscrepancies(), []);
    assert.deepEqual(integrityCheck(db), { ok: true, problems: [] });
  });
});

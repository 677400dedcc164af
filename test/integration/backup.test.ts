// `hearth backup` while a real daemon serves concurrent chats (each one rows in the ledger), and
// `hearth restore` of it with the daemon stopped: the restored database passes integrity_check
// and holds every ledger row committed before the backup began. Restore refuses a corrupted
// file, a newer schema and a running daemon; the daily job writes its own backups.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { corruptMiddle } from '../helpers/database-files.js';
import { runHearth } from '../helpers/hearth-cli.js';
import { waitUntil } from '../helpers/processes.js';



interface LedgerRow {
  seq: number;
  workspace_id: string;
  kind: string;
  credits: number;
  request_id: string;
}

const ledgerRows = (db: Database.Database, throughSeq: number) => db.prepare('SELECT seq, workspace_id, kind, credits, request_id FROM ledger WHERE seq <= ? ORDER BY seq').all(throughSeq) as LedgerRow[];

describe('hearth backup under load, and hearth restore', () => {
  let d: DaemonProcess;
  const scratch = mkdtempSync(join(tmpdir(), 'hearth-backup-it-'));
  const dataDir = join(scratch, 'data');
  const dbPath = join(dataDir, 'hearth.db');
  const backupFile = join(scratch, 'under-load.db');
  /** The ledger as a read-only reader saw it just before the backup began. */
  let committed: { maxSeq: number; count: number; rows: LedgerRow[] };
  let afterBackupMaxSeq = 0;

  before(async () => {
    // The daily job every minute, so that the test sees it run.
    d = await startDaemonProcess({ dataDir, configYaml: 'backup:\n  schedule: "* * * * *"\n  keep: 1\n' });
  });
  after(async () => {
    await d?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('a backup taken while chats write the ledger holds every row committed before it began', async () => {
    assert.equal((await d.admin('PATCH', '/api/admin/plans/paid_chat', { max_concurrent: 100, rpm: 100_000 })).status, 200);
    const { key } = await d.keyFor('paid_chat', { credits: 1_000_000 });
    let stop = false;
    let answered = 0;
    const chat = async () => {
      while (!stop) {
        const r = await fetch(`${d.url}/api/v1/chat`, {
          method: 'POST',
          headers: { 'x-api-key': key, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
        });
        await r.arrayBuffer();
        if (r.status === 200) answered++;
      }
    };
    const workers = Array.from({ length: 6 }, chat);
    const reader = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      const count = () => reader.prepare('SELECT count(*) FROM ledger').pluck().get() as number;
      await waitUntil(() => count() >= 40, 60_000, 'the chats have written 40 ledger rows');
      const maxSeq = reader.prepare('SELECT max(seq) FROM ledger').pluck().get() as number;
      committed = { maxSeq, count: count(), rows: ledgerRows(reader, maxSeq) };
      const made = await runHearth(['backup', '--data-dir', dataDir, '--out', backupFile, '--json']);
      assert.equal(made.code, 0, made.stderr);
      assert.equal((JSON.parse(made.stdout) as { path: string }).path, backupFile);
      afterBackupMaxSeq = reader.prepare('SELECT max(seq) FROM ledger').pluck().get() as number;
    } finally {
      stop = true;
      await Promise.all(workers);
      reader.close();
    }
    assert.ok(afterBackupMaxSeq > committed.maxSeq, `the ledger kept growing while the backup ran (${committed.maxSeq} → ${afterBackupMaxSeq}, ${answered} chats answered)`);
    assert.equal(statSync(backupFile).mode & 0o777, 0o600);

    const copy = new Database(backupFile, { readonly: true });
    try {
      assert.deepEqual(copy.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
      assert.deepEqual(ledgerRows(copy, committed.maxSeq), committed.rows, 'every row committed before the backup began, as it was');
    } finally {
      copy.close();
    }

    const again = await runHearth(['backup', '--data-dir', dataDir, '--out', backupFile]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists: give --force to replace it/);
  });

  it('restore refuses while the daemon runs', async () => {
    const r = await runHearth(['restore', backupFile, '--data-dir', dataDir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`hearth serve is running on ${dataDir}: stop it first \\(systemctl stop hearth\\)`));
  });

  it('the daily job writes its backup into <data_dir>/backups', async () => {
    const backups = join(dataDir, 'backups');
    const daily = () => (existsSync(backups) ? readdirSync(backups).filter((n) => /^hearth-\d{8}T\d{6}Z\.db$/.test(n)) : []);
    await waitUntil(() => d.logs.some((l) => l.message === 'daily job done'), 90_000, 'the daily job ran', 200);
    const done = d.logs.find((l) => l.message === 'daily job done')!;
    assert.deepEqual(done.failed, []);
    assert.equal(daily().length, 1);
    const file = join(backups, daily()[0]!);
    assert.equal(done.backup, file);
    const copy = new Database(file, { readonly: true });
    assert.deepEqual(copy.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    copy.close();
  });

  it('restore, with the daemon stopped, puts the backup back and keeps the replaced database', async () => {
    await d.stop();
    const r = await runHearth(['restore', backupFile, '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stderr);
    const previous = readdirSync(dataDir).filter((n) => /^hearth\.db\.before-restore-\d{8}T\d{6}Z$/.test(n));
    assert.equal(previous.length, 1, readdirSync(dataDir).join(' '));
    assert.match(r.stdout, new RegExp(`the replaced database is kept as ${join(dataDir, previous[0]!)}`));
    assert.equal(existsSync(`${dbPath}-shm`), false);

    const restored = new Database(dbPath, { readonly: true });
    try {
      assert.deepEqual(restored.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
      assert.deepEqual(ledgerRows(restored, committed.maxSeq), committed.rows);
    } finally {
      restored.close();
    }
    const kept = new Database(join(dataDir, previous[0]!), { readonly: true });
    try {
      assert.ok((kept.prepare('SELECT max(seq) FROM ledger').pluck().get() as number) >= afterBackupMaxSeq, 'the replaced database still has what came after the backup');
    } finally {
      kept.close();
    }

    // The restored data dir serves again.
    d = await startDaemonProcess({ dataDir });
    const health = await d.admin<{ database: string }>('GET', '/api/v1/health');
    assert.equal(health.body.database, 'ok');
    await d.stop();
  });

  it('restore refuses a corrupted file and a newer schema, and changes nothing', async () => {
    const dbBefore = readFileSync(dbPath);
    const corrupt = join(scratch, 'corrupt.db');
    copyFileSync(backupFile, corrupt);
    corruptMiddle(corrupt);
    const bad = await runHearth(['restore', corrupt, '--data-dir', dataDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`${corrupt} (fails integrity_check|cannot be opened)`));

    const newer = join(scratch, 'newer.db');
    copyFileSync(backupFile, newer);
    const n = new Database(newer);
    n.pragma('user_version = 999');
    n.close();
    const tooNew = await runHearth(['restore', newer, '--data-dir', dataDir]);
    assert.equal(tooNew.code, 1);
    assert.match(tooNew.stderr, /has schema version 999, newer than this Hearth knows \(\d+\): upgrade Hearth first/);
    assert.ok(readFileSync(dbPath).equals(dbBefore), 'the database is untouched');
    assert.equal(readdirSync(dataDir).filter((n) => /^hearth\.db\.before-restore-\d{8}T\d{6}Z$/.test(n)).length, 1, 'no more replaced databases kept');
  });

  it('the commands say what they need: --out, one FILE, a readable file, an existing data dir', async () => {
    const noOut = await runHearth(['backup', '--data-dir', dataDir]);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /give the file to write with --out FILE/);
    const two = await runHearth(['restore', 'a.db', 'b.db', '--data-dir', dataDir]);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /give exactly one backup FILE/);
    const missing = await runHearth(['restore', join(scratch, 'absent.db'), '--data-dir', dataDir]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `hearth: cannot read ${join(scratch, 'absent.db')} (ENOENT)\n`);
    const nowhere = await runHearth(['backup', '--out', join(scratch, 'x.db'), '--data-dir', join(scratch, 'no-such-dir')]);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /no Hearth data dir at .*no-such-dir: give the daemon's --config or --data-dir/);
  });
});

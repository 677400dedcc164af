// Backups, restores and the daily job on real SQLite files in a temp folder: what a backup
// holds and how it is written, what a restore refuses and keeps, which backups and log rows the
// daily job removes.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { backupDatabase, checkBackupFile, dailyBackupName, fileStamp, pruneDailyBackups, restoreDatabase } from '../../src/db/backup.js';
import { integrityCheck, loadMigrations, openDatabase, type Database } from '../../src/db/database.js';
import { runMaintenance } from '../../src/daemon/maintenance.js';
import { ManualClock } from '../../src/domain/clock.js';
import { pruneRequestLog, retentionCutoff } from '../../src/domain/retention.js';
import { HearthError } from '../../src/errors.js';
import { Datasets } from '../../src/finetune/datasets.js';
import { JobFiles } from '../../src/finetune/job-files.js';
import { pruneJobLogs } from '../../src/finetune/job-log-retention.js';
import { Jobs } from '../../src/finetune/jobs.js';
import type { Logger } from '../../src/log.js';
import { corruptMiddle } from '../helpers/database-files.js';
import { openDomain, tempDir } from '../helpers/domain-db.js';

const LATEST = loadMigrations().length;
const DAY = 86_400_000;

const quietLog = (): { log: Logger; lines: Array<[string, string, unknown]> } => {
  const lines: Array<[string, string, unknown]> = [];
  const at = (level: string) => (message: string, meta?: unknown) => void lines.push([level, message, meta]);
  return { log: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug'), child: () => quietLog().log } as unknown as Logger, lines };
};

const refusalCode = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HearthError, String(err));
    return err.code;
  }
  assert.fail('expected a refusal');
};


function logRows(db: Database, at: Date[]): void {
  const insert = db.prepare("INSERT INTO request_log (at, surface, route, status, duration_ms) VALUES (?, '/v1', 'POST /v1/chat/completions', 200, 1)");
  for (const t of at) insert.run(t.toISOString());
}

describe('backups and restores', () => {
  let dir: string;
  let cleanup: () => void;
  let db: Database;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('hearth-backup-'));
    db = openDatabase(join(dir, 'hearth.db'));
    logRows(db, [new Date('2025-01-01T00:00:00Z'), new Date('2025-02-01T00:00:00Z')]);
  });
  afterEach(() => {
    if (db.open) db.close();
    cleanup();
  });

  it('a backup is one file, mode 0600, with every committed row and the schema version; an existing file is refused unless overwritten', async () => {
    const out = join(dir, 'copy.db');
    const made = await backupDatabase(db, out, { verify: true });
    assert.equal(made.schemaVersion, LATEST);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.') || n.startsWith('copy')), ['copy.db'], 'no temp or side files left');
    const copy = new BetterSqlite3(out, { readonly: true });
    assert.equal(copy.pragma('journal_mode', { simple: true }), 'delete', 'the file alone is the whole database');
    assert.equal(copy.prepare('SELECT count(*) FROM request_log').pluck().get(), 2);
    copy.close();

    await assert.rejects(backupDatabase(db, out), (e) => e instanceof HearthError && e.code === 'backup_exists');
    logRows(db, [new Date('2025-03-01T00:00:00Z')]);
    await backupDatabase(db, out, { overwrite: true, pagesPerStep: 1 });
    const again = new BetterSqlite3(out, { readonly: true });
    assert.equal(again.prepare('SELECT count(*) FROM request_log').pluck().get(), 3);
    again.close();
  });

  it('writes through the same connection between steps are in the copy', async () => {
    const out = join(dir, 'stepped.db');
    logRows(db, Array.from({ length: 2000 }, (_, i) => new Date(Date.parse('2025-01-02T00:00:00Z') + i)));
    // A row written by the daemon's connection once the copy has begun, between two of its steps.
    let writtenAt: number | undefined;
    const backup = db.backup.bind(db);
    db.backup = (file, options) =>
      backup(file, {
        progress: (info) => {
          if (writtenAt === undefined) {
            logRows(db, [new Date('2025-04-01T00:00:00Z')]);
            writtenAt = info.remainingPages;
          }
          return options?.progress?.(info) ?? 100;
        },
      });
    await backupDatabase(db, out, { pagesPerStep: 1 });
    assert.ok(writtenAt !== undefined && writtenAt > 1, `written with ${writtenAt} pages still to copy`);
    const copy = new BetterSqlite3(out, { readonly: true });
    assert.equal(copy.prepare('SELECT count(*) FROM request_log').pluck().get(), 2003);
    copy.close();
  });

  it('restore checks the file, keeps the replaced database with its WAL, removes the stale shared-memory file', async () => {
    const out = join(dir, 'b.db');
    await backupDatabase(db, out);
    logRows(db, [new Date('2025-05-01T00:00:00Z')]);
    // Leave what a killed daemon leaves: a WAL holding committed rows, and its index.
    const crashed = new BetterSqlite3(join(dir, 'hearth.db'));
    crashed.pragma('wal_autocheckpoint = 0');
    crashed.prepare("INSERT INTO request_log (at, surface, route, status, duration_ms) VALUES ('2025-06-01T00:00:00.000Z', '/v1', 'x', 200, 1)").run();
    db.close();
    // Copy the three files as they are while the connection still holds them open.
    const dbPath = join(dir, 'hearth.db');
    assert.ok(existsSync(`${dbPath}-wal`) && existsSync(`${dbPath}-shm`));
    const snapshot = join(dir, 'snap');
    mkdirSync(snapshot);
    for (const side of ['', '-wal', '-shm']) writeFileSync(join(snapshot, `hearth.db${side}`), readFileSync(dbPath + side));
    crashed.close();

    const target = join(snapshot, 'hearth.db');
    const done = restoreDatabase(target, out, new Date('2025-07-01T12:34:56.789Z'));
    assert.deepEqual(done, { schemaVersion: LATEST, latestVersion: LATEST, previous: `${target}.before-restore-20250701T123456Z` });
    assert.ok(existsSync(`${target}.before-restore-20250701T123456Z-wal`), 'the WAL goes with the database it belongs to');
    assert.equal(existsSync(`${target}-wal`), false);
    assert.equal(existsSync(`${target}-shm`), false);
    assert.equal(statSync(target).mode & 0o777, 0o600);
    const restored = openDatabase(target);
    assert.equal(restored.prepare('SELECT count(*) FROM request_log').pluck().get(), 2, 'what was written after the backup is gone');
    assert.deepEqual(integrityCheck(restored), { ok: true, problems: [] });
    restored.close();
    const kept = new BetterSqlite3(`${target}.before-restore-20250701T123456Z`, { readonly: true });
    assert.equal(kept.prepare('SELECT count(*) FROM request_log').pluck().get(), 4, 'the kept database, with its WAL, still has every row');
    kept.close();
    assert.deepEqual(readdirSync(snapshot).filter((n) => n.startsWith('.')), [], 'no temp copy left');
  });

  it('restore refuses a corrupted file, a newer schema, a file that is not Hearth\'s, a missing one; the database stays', async () => {
    const out = join(dir, 'b.db');
    await backupDatabase(db, out);
    db.close();
    const dbPath = join(dir, 'hearth.db');
    const before = statSync(dbPath).mtimeMs;
    const newer = join(dir, 'newer.db');
    const source = new BetterSqlite3(out);
    await backupDatabase(source, newer);
    source.close();
    const n = new BetterSqlite3(newer);
    n.pragma(`user_version = ${LATEST + 5}`);
    n.close();
    assert.equal(refusalCode(() => restoreDatabase(dbPath, newer, new Date())), 'backup_too_new');
    const corrupt = join(dir, 'corrupt.db');
    writeFileSync(corrupt, readFileSync(out));
    corruptMiddle(corrupt);
    assert.equal(refusalCode(() => restoreDatabase(dbPath, corrupt, new Date())), 'backup_corrupt');
    const foreign = join(dir, 'foreign.db');
    const f = new BetterSqlite3(foreign);
    f.exec('CREATE TABLE t (x)');
    f.close();
    assert.equal(refusalCode(() => restoreDatabase(dbPath, foreign, new Date())), 'backup_not_hearth');
    assert.equal(refusalCode(() => restoreDatabase(dbPath, join(dir, 'absent.db'), new Date())), 'backup_unreadable');
    assert.equal(statSync(dbPath).mtimeMs, before);
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('before-restore') || n.startsWith('.')), [], 'nothing moved, no temp copy left');
    assert.match(String((() => { try { checkBackupFile(newer); } catch (e) { return (e as Error).message; } })()), new RegExp(`${newer} has schema version ${LATEST + 5}, newer than this Hearth knows \\(${LATEST}\\): upgrade Hearth first`));
  });

  it('daily backups are named by time and only the newest `keep` of them stay; other files are never touched', () => {
    assert.equal(fileStamp(new Date('2025-05-01T03:00:07.123Z')), '20250501T030007Z');
    assert.equal(dailyBackupName(new Date('2025-05-01T03:00:07Z')), 'hearth-20250501T030007Z.db');
    const backups = join(dir, 'backups');
    mkdirSync(backups);
    const names = [1, 2, 3, 4].map((d) => dailyBackupName(new Date(Date.UTC(2025, 4, d, 3))));
    for (const n of [...names, 'mine.db', 'hearth-manual.db']) writeFileSync(join(backups, n), '');
    assert.deepEqual(pruneDailyBackups(backups, 2), names.slice(0, 2).map((n) => join(backups, n)));
    assert.deepEqual(readdirSync(backups).sort(), ['hearth-manual.db', 'mine.db', ...names.slice(2)].sort());
  });
});

describe('retention', () => {
  it('the request log loses its rows older than the cutoff, in batches; keep removes none', async () => {
    const { dir, cleanup } = tempDir('hearth-retention-');
    const db = openDatabase(join(dir, 'hearth.db'));
    try {
      const now = new Date('2025-06-01T00:00:00Z');
      logRows(db, Array.from({ length: 25 }, (_, i) => new Date(now.getTime() - (i + 1) * DAY)));
      assert.equal(retentionCutoff(now, Infinity), undefined);
      const cutoff = retentionCutoff(now, 10)!;
      assert.equal(cutoff.toISOString(), '2025-05-22T00:00:00.000Z');
      assert.equal(await pruneRequestLog(db, cutoff, { batchRows: 4 }), 15, 'days 11..25 before; four batches of four');
      const left = db.prepare('SELECT min(at) FROM request_log').pluck().get();
      assert.equal(left, '2025-05-22T00:00:00.000Z', 'a row exactly at the cutoff stays');
      assert.equal(db.prepare('SELECT count(*) FROM request_log').pluck().get(), 10);
    } finally {
      db.close();
      cleanup();
    }
  });

  it("a finished job's log goes after its days; a job still waiting keeps its log however old", async () => {
    const d = openDomain({ now: '2025-01-01T00:00:00Z' });
    try {
      const jobs = new Jobs(d.db, d.clock);
      const datasets = new Datasets(d.db, join(d.dir, 'datasets'), d.clock, { maxBytes: 1e6, maxRecords: 10, quotaBytes: 1e7 }, (id) => jobs.usesDataset(id));
      const files = new JobFiles({ dir: join(d.dir, 'jobs'), clock: d.clock, log: quietLog().log });
      const w = d.workspaces.create({ name: 'a', planId: 'chat_agent_train' });
      const ds = await datasets.create(w.id, { title: 't', records: [{ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] }] });
      const hyperparameters = { epochs: 1, learningRate: 1e-4, contextSize: 256, output: 'lora' as const, seed: 1 };
      const job = () => jobs.create(w.id, { datasetId: ds.id, baseModel: 'm', trainer: 'llamacpp', hyperparameters, startAt: null }).id;
      const [old, recent, waiting] = [job(), job(), job()];
      for (const id of [old, recent, waiting]) files.appendLog(id, 'a line');
      for (const id of [old, waiting]) jobs.queue(w.id, id, { maxQueued: 10, maxQueuedPerWorkspace: 10 });
      jobs.markRunning(old);
      jobs.finish(old, 'succeeded');
      d.clock.advance(50 * DAY);
      jobs.finish(recent, 'cancelled');
      d.clock.advance(50 * DAY);
      assert.equal(pruneJobLogs(jobs, files, retentionCutoff(d.clock.now(), 90)!), 1);
      assert.deepEqual(files.logLines(old), []);
      assert.equal(files.logLines(recent).length, 1);
      assert.equal(files.logLines(waiting).length, 1);
      assert.equal(jobs.byId(old).state, 'succeeded', 'the job itself stays');
      assert.equal(pruneJobLogs(jobs, files, retentionCutoff(d.clock.now(), 90)!), 0, 'a log already gone is not counted again');
    } finally {
      d.close();
    }
  });
});

describe('the daily job', () => {
  it('backs up into backup.dir (default <data_dir>/backups), keeps backup.keep, prunes the request log and job logs; a failing part does not stop the others', async () => {
    const { dir, cleanup } = tempDir('hearth-daily-');
    const db = openDatabase(join(dir, 'hearth.db'));
    try {
      const clock = new ManualClock('2025-06-01T03:00:00Z');
      logRows(db, [new Date('2025-01-01T00:00:00Z'), new Date('2025-05-31T00:00:00Z')]);
      const { log, lines } = quietLog();
      const pruned: Date[] = [];
      const deps = {
        db,
        dataDir: dir,
        backup: { enabled: true, schedule: '0 3 * * *', keep: 2, dir: '' },
        retention: { requestLog: 90, jobLogs: 30 },
        clock,
        log,
        pruneJobLogs: (before: Date) => (pruned.push(before), 3),
      };
      const first = await runMaintenance(deps);
      const backups = join(dir, 'backups');
      assert.deepEqual(first, { backup: join(backups, 'hearth-20250601T030000Z.db'), removedBackups: 0, requestLogRows: 1, jobLogs: 3, failed: [] });
      assert.equal(statSync(backups).mode & 0o777, 0o700);
      assert.deepEqual(pruned, [new Date('2025-05-02T03:00:00Z')]);
      for (let day = 0; day < 2; day++) {
        clock.advance(DAY);
        await runMaintenance(deps);
      }
      assert.deepEqual(readdirSync(backups).sort(), ['hearth-20250602T030000Z.db', 'hearth-20250603T030000Z.db']);
      const copy = new BetterSqlite3(join(backups, 'hearth-20250603T030000Z.db'), { readonly: true });
      assert.equal(copy.prepare('SELECT count(*) FROM request_log').pluck().get(), 1, 'the backup is taken before the pruning of that day, and has the earlier pruning');
      copy.close();

      const failing = await runMaintenance({ ...deps, pruneJobLogs: () => { throw new Error('disk gone'); } });
      assert.deepEqual([failing.failed, failing.removedBackups], [['job_logs'], 0]);
      writeFileSync(join(dir, 'blocker'), '');
      const blocked = await runMaintenance({ ...deps, backup: { ...deps.backup, dir: join(dir, 'blocker', 'sub') } });
      assert.deepEqual([blocked.backup, blocked.failed, blocked.requestLogRows, blocked.jobLogs], [null, ['backup'], 0, 3], 'the backup failed; the removals still ran');
      assert.ok(lines.some(([level, message, meta]) => level === 'error' && message === 'daily job: a part failed' && (meta as { part: string }).part === 'backup'));
      const off = await runMaintenance({ ...deps, backup: { ...deps.backup, enabled: false }, retention: { requestLog: Infinity, jobLogs: Infinity } });
      assert.deepEqual(off, { backup: null, removedBackups: 0, requestLogRows: 0, jobLogs: 0, failed: [] });
    } finally {
      db.close();
      cleanup();
    }
  });

  it('a shutdown stops a backup between two steps, leaves no partial file, and skips the parts not begun', async () => {
    const { dir, cleanup } = tempDir('hearth-daily-');
    const db = openDatabase(join(dir, 'hearth.db'));
    try {
      logRows(db, Array.from({ length: 2000 }, (_, i) => new Date(Date.parse('2025-01-02T00:00:00Z') + i)));
      const stopping = new AbortController();
      const backup = db.backup.bind(db);
      // The shutdown comes once the copy has begun.
      db.backup = (file, options) => backup(file, { progress: (info) => (stopping.abort(), options?.progress?.(info) ?? 100) });
      const { log, lines } = quietLog();
      let jobLogs = 0;
      const report = await runMaintenance({
        db,
        dataDir: dir,
        backup: { enabled: true, schedule: '0 3 * * *', keep: 2, dir: '' },
        retention: { requestLog: 1, jobLogs: 1 },
        clock: new ManualClock('2025-06-01T03:00:00Z'),
        log,
        pruneJobLogs: () => ++jobLogs,
        signal: stopping.signal,
      });
      assert.deepEqual(report, { backup: null, removedBackups: 0, requestLogRows: 0, jobLogs: 0, failed: ['backup'] });
      assert.deepEqual(readdirSync(join(dir, 'backups')), [], 'no partial file left');
      assert.equal(jobLogs, 0);
      assert.equal(db.prepare('SELECT count(*) FROM request_log').pluck().get(), 2000, 'the removals wait for the next day');
      assert.ok(lines.some(([level, message]) => level === 'warn' && message === 'daily job: a part was stopped by the shutdown'));
      assert.ok(!lines.some(([level]) => level === 'error'));
    } finally {
      db.close();
      cleanup();
    }
  });
});

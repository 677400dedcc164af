// Backups of the database and putting one back. A backup is SQLite's online backup API
// (better-sqlite3's db.backup()): a page-by-page copy that readers and writers of the live
// database never wait for, written beside its final name and renamed into place, so a reader
// of the backup folder never sees half a file. Only Hearth's own names are ever removed.

import { randomUUID } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { HearthError } from '../errors.js';
import { integrityCheck, loadMigrations, type Database } from './database.js';

export interface BackupResult {
  path: string;
  bytes: number;
  /** The backup's user_version: the migrations it has. */
  schemaVersion: number;
}

export interface BackupOptions {
  /** Replace a file already at `out`; without it an existing file is refused (code backup_exists). */
  overwrite?: boolean;
  /**
   * Pages copied per step; between steps the event loop runs. Undefined: all pages in one step.
   * A write through another connection (another process) between two steps restarts the copy,
   * so a connection of its own, beside a busy daemon, copies in one step: one read transaction,
   * which WAL lets the daemon write past. The daemon's own connection may step: its writes are
   * carried into the copy as they happen.
   */
  pagesPerStep?: number;
  /** Run integrity_check on the copy before it takes its name (reads it all once more). */
  verify?: boolean;
  /** Stops the copy between two steps (the daemon shutting down); nothing is left behind. */
  signal?: AbortSignal;
}

/** integrity_check's findings on one line (SQLite puts line breaks in some): the first three, and how many more. */
export function describeProblems(problems: readonly string[]): string {
  const more = problems.length > 3 ? ` (+${problems.length - 3} more)` : '';
  return problems.slice(0, 3).map((p) => p.replace(/\s*\n\s*/g, ' ')).join('; ') + more;
}

/** SQLite counts pages in an int: the most one step can ask for. */
const ALL_PAGES = 0x7fffffff;

/**
 * Copies the database behind `source` to `out` (mode 0600, single-file rollback-journal mode so
 * the file alone is the whole database), consistent as of one moment while `source` serves.
 */
export async function backupDatabase(source: Database, out: string, options: BackupOptions = {}): Promise<BackupResult> {
  if (!options.overwrite && existsSync(out)) throw new HearthError('conflict', `${out} already exists`, { code: 'backup_exists' });
  const temp = join(dirname(out), `.${basename(out)}.partial-${randomUUID()}`);
  try {
    // Made before SQLite opens it, so the copy is never readable by others, not even for a moment.
    writeFileSync(temp, '', { mode: 0o600, flag: 'wx' });
    const pages = options.pagesPerStep ?? ALL_PAGES;
    // Throwing from the progress callback is how better-sqlite3 lets a backup be abandoned.
    await source.backup(temp, {
      progress: () => {
        options.signal?.throwIfAborted();
        return pages;
      },
    });
    const copy = new BetterSqlite3(temp);
    let schemaVersion: number;
    try {
      copy.pragma('journal_mode = DELETE');
      schemaVersion = copy.pragma('user_version', { simple: true }) as number;
      if (options.verify) {
        const check = integrityCheck(copy);
        if (!check.ok) throw new HearthError('internal', `the copy of ${source.name} fails integrity_check (${describeProblems(check.problems)}): the database itself is damaged; run hearth doctor`, { code: 'backup_corrupt' });
      }
    } finally {
      copy.close();
    }
    syncFile(temp);
    chmodSync(temp, 0o600);
    renameSync(temp, out);
    syncDir(dirname(out));
    return { path: out, bytes: statSync(out).size, schemaVersion };
  } finally {
    rmSync(temp, { force: true });
    rmSync(`${temp}-journal`, { force: true });
  }
}

/** What restore found in a backup file: its schema, and the newest this build knows. */
export interface BackupFileFacts {
  schemaVersion: number;
  latestVersion: number;
}

/**
 * Refuses, with a HearthError naming the reason, a file that is not a readable SQLite database,
 * fails integrity_check, is not Hearth's, or has a schema newer than this build's migrations.
 * The file is opened read-write (SQLite keeps a WAL file's side files beside it only while open)
 * and never written.
 */
export function checkBackupFile(path: string, options: { shownAs?: string; migrationsDir?: string } = {}): BackupFileFacts {
  const latestVersion = loadMigrations(options.migrationsDir).length;
  const name = options.shownAs ?? path;
  let db: Database;
  try {
    db = new BetterSqlite3(path, { fileMustExist: true });
  } catch (err) {
    throw new HearthError('invalid_request', `${name} cannot be opened: ${(err as Error).message}`, { code: 'backup_unreadable', cause: err });
  }
  try {
    let check: { ok: boolean; problems: string[] };
    let schemaVersion: number;
    try {
      schemaVersion = db.pragma('user_version', { simple: true }) as number;
      check = integrityCheck(db);
    } catch (err) {
      // A damaged header or schema page fails the read itself rather than the check.
      check = { ok: false, problems: [(err as Error).message] };
      schemaVersion = 0;
    }
    if (!check.ok) throw new HearthError('invalid_request', `${name} fails integrity_check (${describeProblems(check.problems)})`, { code: 'backup_corrupt' });
    if (schemaVersion === 0) throw new HearthError('invalid_request', `${name} is not a Hearth database (it has no schema version)`, { code: 'backup_not_hearth' });
    if (schemaVersion > latestVersion) {
      throw new HearthError('invalid_request', `${name} has schema version ${schemaVersion}, newer than this Hearth knows (${latestVersion}): upgrade Hearth first, then restore`, { code: 'backup_too_new' });
    }
    return { schemaVersion, latestVersion };
  } finally {
    db.close();
  }
}

export interface RestoreResult extends BackupFileFacts {
  /** Where the replaced database was kept; null when there was none. */
  previous: string | null;
}

/**
 * Puts the backup `from` in place of the database at `dbPath`, which no process may have open
 * (the caller holds the data dir's lock). The backup is copied beside the database and checked
 * there (checkBackupFile), so what is checked is what is put in place. The replaced database is
 * kept as <db>.before-restore-<time>, its WAL file (committed transactions not yet checkpointed
 * into it, after a crash) renamed with it so the pair still opens as one; the shared-memory
 * index is removed, as SQLite rebuilds it.
 */
export function restoreDatabase(dbPath: string, from: string, now: Date, migrationsDir?: string): RestoreResult {
  const dir = dirname(dbPath);
  const temp = join(dir, `.${basename(dbPath)}.restore-${randomUUID()}`);
  try {
    try {
      copyFileSync(from, temp);
    } catch (err) {
      throw new HearthError('invalid_request', `cannot read ${from} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { code: 'backup_unreadable', cause: err });
    }
    chmodSync(temp, 0o600);
    const facts = checkBackupFile(temp, { shownAs: from, migrationsDir });
    syncFile(temp);
    let previous: string | null = null;
    if (existsSync(dbPath)) {
      previous = `${dbPath}.before-restore-${fileStamp(now)}`;
      renameSync(dbPath, previous);
      for (const side of ['-wal', '-journal']) if (existsSync(dbPath + side)) renameSync(dbPath + side, previous + side);
    }
    rmSync(`${dbPath}-shm`, { force: true });
    renameSync(temp, dbPath);
    syncDir(dir);
    return { ...facts, previous };
  } finally {
    rmSync(temp, { force: true });
  }
}

/** "20250501T030000Z": a time as part of a file name, sorting as the times do. */
export function fileStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** The daily job's backups: hearth-<stamp>.db. Nothing else in their folder is ever removed. */
const DAILY_BACKUP = /^hearth-\d{8}T\d{6}Z\.db$/;

export function dailyBackupName(at: Date): string {
  return `hearth-${fileStamp(at)}.db`;
}

/** Removes the daily backups in `dir` beyond the newest `keep`; returns the paths removed. */
export function pruneDailyBackups(dir: string, keep: number): string[] {
  const names = readdirSync(dir).filter((n) => DAILY_BACKUP.test(n)).sort();
  const old = names.slice(0, Math.max(0, names.length - keep)).map((n) => join(dir, n));
  for (const path of old) rmSync(path, { force: true });
  return old;
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a rename durable; best effort, as some filesystems refuse to sync a folder. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // The rename is done either way; only its durability across a power loss is at stake.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

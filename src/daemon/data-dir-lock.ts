import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HearthError } from '../errors.js';

export const LOCK_FILE = 'serve.lock';
export const PID_FILE = 'serve.pid';

export interface DataDirLock {
  release(): void;
}

/**
 * Claims the data dir for one `hearth serve`. Two daemons on one data dir would each release the
 * other's credit reservations and fail the other's running fine-tune jobs at start, so the second
 * one stops here. The lock is SQLite's own exclusive lock on a file of its own (a POSIX lock held
 * by an open transaction): the kernel drops it when the process dies, SIGKILL included, so a
 * crash never leaves a stale lock behind, as a pid file would. The admin CLI does not take it.
 */
export function lockDataDir(dataDir: string, pid = process.pid): DataDirLock {
  const db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    const holder = readHolder(dataDir);
    throw new HearthError('conflict', `the data dir ${dataDir} is in use by another hearth serve${holder ? ` (pid ${holder})` : ''}; stop it first, or give this one its own --data-dir`, { code: 'data_dir_in_use' });
  }
  // For the message above only: the lock, not this file, decides.
  writeFileSync(join(dataDir, PID_FILE), `${pid}\n`, { mode: 0o644 });
  return {
    release() {
      if (!db.open) return;
      rmSync(join(dataDir, PID_FILE), { force: true });
      db.close();
    },
  };
}

/**
 * Whether a `hearth serve` holds the data dir now, and its pid when it says. Read without taking
 * the lock: a read of the lock file needs SQLite's shared lock, which the daemon's exclusive one
 * refuses at once. Opened read-only and only if it exists, so asking never creates a file.
 */
export function dataDirHolder(dataDir: string): { held: boolean; pid?: number } {
  let db: Database.Database;
  try {
    db = new Database(join(dataDir, LOCK_FILE), { timeout: 0, readonly: true, fileMustExist: true });
  } catch {
    return { held: false };
  }
  try {
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
    return { held: false };
  } catch (err) {
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    const pid = readHolder(dataDir);
    return pid === undefined ? { held: true } : { held: true, pid };
  } finally {
    db.close();
  }
}

function readHolder(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dataDir, PID_FILE), 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

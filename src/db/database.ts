import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { HearthError } from '../errors.js';
import type { Logger } from '../log.js';
import { packageRoot } from '../paths.js';

export type Database = BetterSqlite3.Database;

/** A nullable timestamp column (ISO 8601 text) as a Date. */
export const dateOrNull = (s: string | null): Date | null => (s === null ? null : new Date(s));

// tsc copies no .sql files into dist/, so migrations are read from the source tree, which ships
// with the package.
export const migrationsDir: string = join(packageRoot, 'src', 'db', 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export interface OpenDatabaseOptions {
  log?: Logger;
  /** Another migrations folder (tests: an older schema, a failing migration). */
  migrationsDir?: string;
  /** Milliseconds a writer waits for another process's lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The numbered migrations in `dir`, in order; numbering must run 1, 2, 3 … without gaps. */
export function loadMigrations(dir: string = migrationsDir): Migration[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new HearthError('internal', `cannot read migrations from ${dir}: ${(err as Error).message}`, { code: 'migrations_missing', cause: err });
  }
  const migrations = names
    .filter((n) => n.endsWith('.sql'))
    .map((n) => {
      const m = MIGRATION_FILE.exec(n);
      if (m === null) throw new HearthError('internal', `migration file name '${n}' is not NNNN_name.sql`, { code: 'migrations_invalid' });
      return { version: Number(m[1]), name: n, sql: readFileSync(join(dir, n), 'utf8') };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new HearthError('internal', `migrations must be numbered 1, 2, 3 …: found ${m.name} at position ${i + 1}`, { code: 'migrations_invalid' });
  });
  if (migrations.length === 0) throw new HearthError('internal', `no migrations in ${dir}`, { code: 'migrations_missing' });
  return migrations;
}

/**
 * Opens (creating if absent) the Hearth database at `path`, sets it up and brings its schema
 * to the newest version this code knows. Refuses, with a HearthError, a file that is not a
 * SQLite database, a SQLite database that is not Hearth's, and a schema newer than this code;
 * it never deletes or recreates anything.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database {
  const migrations = loadMigrations(options.migrationsDir);
  let db: Database;
  try {
    db = new BetterSqlite3(path);
  } catch (err) {
    throw cannotOpen(path, err);
  }
  try {
    // Set first, so that switching to WAL and migrating wait for a lock held by another process
    // (the CLI writes while the daemon runs) instead of failing at once with SQLITE_BUSY.
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    // WAL: readers never block the writer nor it them, and a commit is one append to the log.
    // This is also the first statement that reads the file, so it is where "file is not a
    // database" surfaces.
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`journal_mode is '${String(mode)}', expected 'wal'`);
    // NORMAL: in WAL mode a committed transaction survives a crash or SIGKILL of the process (the
    // log is in the OS page cache and is replayed on the next open); only a power loss or kernel
    // crash can drop the last transactions before a checkpoint. FULL would fsync every commit and
    // costs about 5× per metered request (measured: ~3 k/s vs ~14 k/s); credits lost on power
    // failure are refunds in the customer's favour, not double charges.
    db.pragma('synchronous = NORMAL');
    // SQLite ships with foreign keys off; plans, workspaces, keys and ledger rows reference each other.
    db.pragma('foreign_keys = ON');
    migrate(db, path, migrations, options.log);
  } catch (err) {
    db.close();
    if (err instanceof HearthError) throw err;
    throw cannotOpen(path, err);
  }
  return db;
}

function cannotOpen(path: string, err: unknown): HearthError {
  return new HearthError('unavailable', `cannot open database ${path}: ${(err as Error).message}`, { code: 'database_unavailable', cause: err });
}

function migrate(db: Database, path: string, migrations: Migration[], log: Logger | undefined): void {
  const latest = migrations.length;
  const userVersion = () => db.pragma('user_version', { simple: true }) as number;
  // Cheap check outside a write lock: the common case is a database already up to date.
  if (userVersion() === latest) return;
  // IMMEDIATE takes the write lock before reading the version, so two processes opening a fresh
  // database at once cannot both apply migration 1.
  db.exec('BEGIN IMMEDIATE');
  try {
    const current = userVersion();
    if (current > latest) {
      throw new HearthError(
        'internal',
        `database ${path} has schema version ${current}, newer than this Hearth knows (${latest}); upgrade Hearth or restore a backup`,
        { code: 'database_too_new' },
      );
    }
    if (current === 0) {
      const foreign = db.prepare("SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").pluck().get() as number;
      if (foreign > 0) {
        throw new HearthError('internal', `database ${path} holds tables but no Hearth schema version; refusing to use it`, { code: 'database_foreign' });
      }
    }
    for (const m of migrations.slice(current)) {
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new HearthError('internal', `migration ${m.name} failed on ${path}: ${(err as Error).message}`, { code: 'migration_failed', cause: err });
      }
      // user_version lives in the database header and is written by this same transaction.
      db.pragma(`user_version = ${m.version}`);
      log?.info('database migrated', { path, migration: m.name, version: m.version });
    }
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/** SQLite's own consistency checks: page structure and indexes, then foreign keys. */
export function integrityCheck(db: Database): { ok: boolean; problems: string[] } {
  const problems = (db.pragma('integrity_check') as Array<{ integrity_check: string }>)
    .map((r) => r.integrity_check)
    .filter((m) => m !== 'ok');
  for (const r of db.pragma('foreign_key_check') as Array<{ table: string; rowid: number; parent: string }>) {
    problems.push(`${r.table} row ${r.rowid}: missing ${r.parent} row`);
  }
  return { ok: problems.length === 0, problems };
}

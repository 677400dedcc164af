import { existsSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { describeProblems } from '../db/backup.js';
import { integrityCheck } from '../db/database.js';
import { fail, ok, type CheckResult } from './check.js';

/** What doctor read from the database file, once, for the database and clock checks. */
export type DatabaseFacts =
  | { state: 'missing' }
  | { state: 'unreadable'; error: string }
  | { state: 'read'; problems: string[]; schemaVersion: number; newestCharge: Date | null };

/**
 * Reads the database at `path` without changing it: integrity_check (and foreign keys), the
 * schema version, the newest ledger row. Opened read-write though only read, so SQLite removes
 * the WAL side files it needs at close when no daemon runs (a read-only connection would leave
 * them behind), and waits a little for a daemon that is writing.
 */
export function readDatabaseFacts(path: string): DatabaseFacts {
  if (!existsSync(path)) return { state: 'missing' };
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(path, { fileMustExist: true, timeout: 5000 });
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    const { problems } = integrityCheck(db);
    let newestCharge: Date | null = null;
    if (problems.length === 0 && schemaVersion > 0) {
      const at = db.prepare('SELECT max(created_at) FROM ledger').pluck().get() as string | null;
      newestCharge = at === null ? null : new Date(at);
    }
    return { state: 'read', problems, schemaVersion, newestCharge };
  } catch (err) {
    // A damaged header or schema page fails the read itself rather than integrity_check.
    return { state: 'unreadable', error: (err as Error).message };
  } finally {
    db?.close();
  }
}

/**
 * Integrity and schema. `latest`: the migrations this build has. A schema older than that is
 * fine (the daemon migrates at start); a newer one was written by a newer Hearth.
 */
export function databaseCheck(path: string, facts: DatabaseFacts, latest: number, backupDir: string): CheckResult {
  const name = 'database';
  const restore = `stop the daemon and put back the newest good backup: hearth restore FILE (the daily ones are in ${backupDir})`;
  switch (facts.state) {
    case 'missing':
      return fail(name, `no database at ${path}`, 'make one with hearth init (or start hearth serve once) on this data dir, or give the daemon\'s --config or --data-dir');
    case 'unreadable':
      return fail(name, `${path} cannot be read: ${facts.error}`, restore);
    case 'read':
      if (facts.problems.length > 0) {
        return fail(name, `${path} fails integrity_check: ${describeProblems(facts.problems)}`, restore);
      }
      if (facts.schemaVersion === 0) return fail(name, `${path} holds no Hearth schema (user_version 0)`, 'give the daemon\'s --config or --data-dir, or restore a backup: hearth restore FILE');
      if (facts.schemaVersion > latest) {
        return fail(name, `${path} has schema version ${facts.schemaVersion}, newer than this Hearth knows (${latest})`, 'restore or upgrade: run the Hearth version that wrote it, or put back a backup made by this one (hearth restore FILE)');
      }
      if (facts.schemaVersion < latest) return ok(name, `${path}: integrity ok; schema version ${facts.schemaVersion}, which hearth serve will migrate to ${latest} at its start`);
      return ok(name, `${path}: integrity ok; schema version ${latest} (current)`);
  }
}

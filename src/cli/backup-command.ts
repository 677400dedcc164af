import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { backupDatabase, restoreDatabase } from '../db/backup.js';
import { lockDataDir } from '../daemon/data-dir-lock.js';
import { DATABASE_FILE } from '../daemon/stores.js';
import { HearthError } from '../errors.js';
import { parseCommandArgs } from './args.js';
import { loadCliConfig } from './cli-config.js';
import { CliError } from './cli-error.js';

const help: Record<'backup' | 'restore', string> = {
  backup: `Usage: hearth backup --out FILE [--force] [--config FILE | --data-dir DIR] [--json]

Writes a consistent copy of the database to FILE (mode 0600) with SQLite's online backup, while
hearth serve keeps serving: the copy is the database as of one moment, every charge committed
before it included. FILE is written under a temporary name and renamed when whole; an existing
FILE is refused unless --force. The copy is checked (integrity_check) before it takes its name.
The server secret (<data_dir>/server-secret) is not in it: keep a copy of that file once, as
every API key is checked with it.
`,
  restore: `Usage: hearth restore FILE [--config FILE | --data-dir DIR] [--json]

Puts the backup FILE in place of the database, with hearth serve stopped (systemctl stop hearth):
it refuses while a daemon holds the data dir, and refuses a FILE that fails integrity_check, is
not a Hearth database, or has a schema newer than this Hearth. The replaced database is kept as
hearth.db.before-restore-<time> (with its -wal file). Everything written after the backup was
taken is lost: charges, keys, workspaces, plans and jobs made since. Start hearth serve again
afterwards; it migrates an older schema.
`,
};

const common = { config: { type: 'string' }, 'data-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

function print(json: boolean | undefined, value: object, human: string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : human) + '\n');
}

/** The data dir's database, which must be there: a mistyped --data-dir is said as such. */
function databaseOf(values: { config?: string; 'data-dir'?: string }): { dataDir: string; dbPath: string } {
  const config = loadCliConfig({ file: values.config, overrides: { data_dir: values['data-dir'] } });
  const dbPath = join(config.dataDir, DATABASE_FILE);
  if (!existsSync(config.dataDir)) throw new CliError(`no Hearth data dir at ${config.dataDir}: give the daemon's --config or --data-dir, or make one with hearth init --data-dir ${config.dataDir}`, 1);
  return { dataDir: config.dataDir, dbPath };
}

/** A domain refusal is one line and exit 1; anything else is a bug with its stack. */
function asCliError(err: unknown): never {
  if (err instanceof HearthError) throw new CliError(err.message, 1);
  throw err;
}

async function backup(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...common, out: { type: 'string' }, force: { type: 'boolean' } }, true);
  if (values.help) {
    process.stdout.write(help.backup);
    return 0;
  }
  if (values.out === undefined || positionals.length > 0) throw new CliError(`give the file to write with --out FILE\n\n${help.backup}`);
  const out = resolve(values.out);
  const { dbPath } = databaseOf(values);
  if (!existsSync(dbPath)) throw new CliError(`no database at ${dbPath}: give the daemon's --config or --data-dir`, 1);
  // A connection of its own, never written through: SQLite removes the WAL side files it made at close.
  const source = new BetterSqlite3(dbPath, { fileMustExist: true, timeout: 5000 });
  try {
    const made = await backupDatabase(source, out, { overwrite: values.force, verify: true }).catch((err: unknown) => {
      if (err instanceof HearthError && err.code === 'backup_exists') throw new CliError(`${out} exists: give --force to replace it, or another --out`, 1);
      return asCliError(err);
    });
    print(values.json, { path: made.path, bytes: made.bytes, schema_version: made.schemaVersion }, `backup written: ${made.path} (${made.bytes} bytes, schema version ${made.schemaVersion})`);
    return 0;
  } finally {
    source.close();
  }
}

async function restore(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, common, true);
  if (values.help) {
    process.stdout.write(help.restore);
    return 0;
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new CliError(`give exactly one backup FILE\n\n${help.restore}`);
  const from = resolve(file);
  const { dataDir, dbPath } = databaseOf(values);
  // Written as another user, the new database would be one the daemon cannot open.
  const owner = statSync(dataDir).uid;
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== owner) throw new CliError(`${dataDir} belongs to uid ${owner}, not to this user (uid ${uid}): run restore as the user hearth serve runs as (sudo -u hearth hearth restore ...)`, 1);
  let lock: { release(): void };
  try {
    lock = lockDataDir(dataDir);
  } catch (err) {
    if (err instanceof HearthError && err.code === 'data_dir_in_use') {
      throw new CliError(`hearth serve is running on ${dataDir}: stop it first (systemctl stop hearth), then restore; ${err.message}`, 1);
    }
    throw err;
  }
  try {
    let done: ReturnType<typeof restoreDatabase>;
    try {
      done = restoreDatabase(dbPath, from, new Date());
    } catch (err) {
      asCliError(err);
    }
    const migrate = done.schemaVersion < done.latestVersion ? `; hearth serve migrates it from schema ${done.schemaVersion} to ${done.latestVersion} at its start` : '';
    print(
      values.json,
      { restored: dbPath, from, previous: done.previous, schema_version: done.schemaVersion, latest_schema_version: done.latestVersion },
      `restored ${from} to ${dbPath}${done.previous ? `; the replaced database is kept as ${done.previous}` : ''}${migrate}. Start hearth serve again (systemctl start hearth).`,
    );
    return 0;
  } finally {
    lock.release();
  }
}

export function runBackupCommand(name: 'backup' | 'restore', argv: string[]): Promise<number> {
  return name === 'backup' ? backup(argv) : restore(argv);
}

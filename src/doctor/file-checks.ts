// The data dir's own files: who owns them, who may read them, and the disk they live on.

import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { fail, formatBytes, ok, warn, type CheckResult } from './check.js';

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** The file's stat, or the errno code that kept it from us. */
function statOf(path: string): Stats | string {
  try {
    return statSync(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/** Whom the data dir belongs to: the user hearth serve runs as. */
function ownerFix(path: string): string {
  return `run doctor as the user hearth serve runs as (sudo -u hearth hearth doctor), or give it the data dir: chown -R <that user> ${path}`;
}

/** Owned by the user doctor runs as, not writable by others; 0700 (as serve and init make it) expected. */
export function dataDirCheck(dir: string, uid: number | undefined): CheckResult {
  const name = 'data-dir';
  const s = statOf(dir);
  if (s === 'ENOENT') return fail(name, `no data dir at ${dir}`, `make it with hearth init --data-dir ${dir}, or give the daemon's --config or --data-dir`);
  if (typeof s === 'string') return fail(name, `cannot read ${dir} (${s})`, ownerFix(dir));
  if (!s.isDirectory()) return fail(name, `${dir} is not a folder`, 'set data_dir (or --data-dir) to the daemon\'s data folder');
  const mode = octal(s.mode);
  if (uid !== undefined && s.uid !== uid) {
    // root reads everything, so its other checks still mean something; anyone else's do not.
    const found = `${dir} belongs to uid ${s.uid}, not to the user doctor runs as (uid ${uid})`;
    return uid === 0 ? warn(name, `${found}: checked as root`, ownerFix(dir)) : fail(name, found, ownerFix(dir));
  }
  if ((s.mode & 0o002) !== 0) return fail(name, `${dir} is writable by every user (mode ${mode})`, `chmod 700 ${dir}`);
  if ((s.mode & 0o777) !== 0o700) return warn(name, `${dir} has mode ${mode}: other users may look inside (the database, job logs, backups)`, `chmod 700 ${dir}`);
  return ok(name, `${dir}: owned by this user, mode 0700`);
}

/**
 * A secret in the data dir (the server secret, the admin token): owner-only, 0600 as Hearth
 * writes them. `missingFix` says how that file comes back.
 */
export function secretFileCheck(name: string, path: string, uid: number | undefined, missingFix: string): CheckResult {
  const s = statOf(path);
  if (s === 'ENOENT') return fail(name, `no ${path}`, missingFix);
  if (typeof s === 'string') return fail(name, `cannot read ${path} (${s})`, ownerFix(path));
  if (uid !== undefined && uid !== 0 && s.uid !== uid) return fail(name, `${path} belongs to uid ${s.uid}, not to the user doctor runs as (uid ${uid})`, ownerFix(path));
  if ((s.mode & 0o077) !== 0) return fail(name, `${path} has mode ${octal(s.mode)}: other users may read it`, `chmod 600 ${path}`);
  return ok(name, `${path}: mode ${octal(s.mode)}`);
}

/** Bytes under `path`, symbolic links not followed; what cannot be read counts as nothing. */
export function treeSize(path: string): number {
  let s: Stats;
  try {
    s = lstatSync(path);
  } catch {
    return 0;
  }
  if (!s.isDirectory()) return s.isFile() ? s.size : 0;
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return 0;
  }
  return names.reduce((sum, n) => sum + treeSize(join(path, n)), 0);
}

/** Below this the database and the request log cannot grow for long: writes start to fail. */
const FAIL_BELOW = 512 * 2 ** 20;
/** Below this (or 10% of the disk) one more model or a few backups may not fit. */
const WARN_BELOW = 5 * 2 ** 30;

export interface DiskUse {
  freeBytes: number;
  totalBytes: number;
  /** What lives under the data dir, by part: "models", "fine-tune jobs", "backups", "database". */
  parts: Record<string, number>;
}

export function diskCheck(dataDir: string, use: DiskUse): CheckResult {
  const name = 'disk';
  const percent = use.totalBytes > 0 ? (use.freeBytes / use.totalBytes) * 100 : 0;
  const parts = Object.entries(use.parts).map(([part, bytes]) => `${part} ${formatBytes(bytes)}`).join(', ');
  const found = `${formatBytes(use.freeBytes)} free of ${formatBytes(use.totalBytes)} (${percent.toFixed(0)}%) where ${dataDir} is; ${parts}`;
  const fix = `free space on that disk, or move data_dir to a larger one; retention.job_logs and backup.keep bound what job logs and backups take, and the console's Models page deletes models no longer used`;
  if (use.freeBytes < FAIL_BELOW) return fail(name, `${found}: the database cannot grow much longer`, fix);
  if (use.freeBytes < WARN_BELOW || percent < 10) return warn(name, `${found}: under ${formatBytes(WARN_BELOW)} or 10% free`, fix);
  return ok(name, found);
}

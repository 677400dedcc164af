// `hearth doctor`: every check of an install, in the order an operator fixes things (the
// runtime, the config, the data dir and its files, then what runs), one result each.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/config-error.js';
import { CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE } from '../config/env.js';
import { defaultConfig, loadConfig } from '../config/load.js';
import type { HearthConfig } from '../config/schema.js';
import { loadMigrations } from '../db/database.js';
import { ADMIN_TOKEN_FILE, SECRET_FILE } from '../daemon/secrets.js';
import { DATABASE_FILE } from '../daemon/stores.js';
import { backupDirOf } from '../daemon/maintenance.js';
import { packageRoot } from '../paths.js';
import { fail, ok, type CheckResult } from './check.js';
import { databaseCheck, readDatabaseFacts } from './database-check.js';
import { dataDirCheck, diskCheck, secretFileCheck, treeSize } from './file-checks.js';
import { backendCheck, gpuCheck, llamacppTrainerCheck, peftTrainerCheck } from './machine-checks.js';
import type { DoctorProbes } from './probes.js';
import { clockCheck, listenCheck, nodeCheck } from './runtime-checks.js';

export interface DoctorOptions {
  /** --config */
  configFile?: string;
  /** --data-dir */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Which file the loader read, for the message: it reads --config, else $HEARTH_CONFIG, else the default file if there. */
function configSource(options: DoctorOptions, env: NodeJS.ProcessEnv): string {
  const named = options.configFile ?? (env[CONFIG_FILE_ENV] || undefined);
  if (named !== undefined) return named;
  return existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : 'no config file (defaults and HEARTH_* variables)';
}

/** The config, or the defaults with --data-dir when it is invalid: the other checks still run on something. */
function configCheck(options: DoctorOptions): { result: CheckResult; config: HearthConfig } {
  const env = options.env ?? process.env;
  const source = configSource(options, env);
  const overrides = { data_dir: options.dataDir };
  try {
    return { result: ok('config', `${source}: valid`), config: loadConfig({ file: options.configFile, env, cwd: options.cwd, overrides }) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const config = defaultConfig({ cwd: options.cwd, overrides });
    const fix = `correct ${err.problems.length === 1 ? 'the key named' : 'each key named'} in ${source} (config.example.yaml lists every key and value); the other checks used the defaults${options.dataDir ? ' and --data-dir' : ''}`;
    return { result: fail('config', err.problems.map((p) => p.replace(/^config: /, '')).join('; '), fix), config };
  }
}

/** A check that throws is a result too: the others still run. */
async function guarded(name: string, run: () => CheckResult | Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (err) {
    return fail(name, `could not be checked: ${err instanceof Error ? err.message : String(err)}`, 'see the message; run doctor as the user hearth serve runs as');
  }
}

const requiredNode = (): string => (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

export async function runDoctor(options: DoctorOptions, probes: DoctorProbes): Promise<CheckResult[]> {
  const results: CheckResult[] = [nodeCheck(probes.nodeVersion, requiredNode())];
  const { result, config } = configCheck(options);
  results.push(result);
  const { dataDir } = config;
  const backupDir = backupDirOf(dataDir, config.backup);
  results.push(dataDirCheck(dataDir, probes.uid));
  const dbPath = join(dataDir, DATABASE_FILE);
  const facts = readDatabaseFacts(dbPath);
  results.push(databaseCheck(dbPath, facts, loadMigrations().length, backupDir));
  // A service install hands the secret over as a systemd credential (installer/install.sh keeps
  // it in /etc/hearth, root only): run through hearth-admin, doctor sees it where the daemon does.
  const credentials = (options.env ?? process.env).CREDENTIALS_DIRECTORY;
  const secretPath = credentials ? join(credentials, SECRET_FILE) : join(dataDir, SECRET_FILE);
  const secretFix = credentials
    ? `the service's credential (LoadCredential=server-secret:/etc/hearth/server-secret) must name the install's secret, root-owned, mode 0600`
    : `hearth init --data-dir ${dataDir} makes one; after moving or restoring a data dir, put back the old server-secret instead (every API key is checked with it); on a service install it is /etc/hearth/server-secret: run sudo /opt/hearth/bin/hearth-admin doctor`;
  results.push(
    config.secrets.store === 'keychain'
      ? ok('server-secret', 'kept in the OS keychain (secrets.store: keychain)')
      : secretFileCheck('server-secret', secretPath, probes.uid, secretFix),
    secretFileCheck('admin-token', join(dataDir, ADMIN_TOKEN_FILE), probes.uid, `hearth init --data-dir ${dataDir} (or hearth serve) writes a new one`),
  );
  const serve = `hearth serve ${options.configFile === undefined ? `--data-dir ${dataDir}` : `--config ${options.configFile}`}`;
  results.push(await guarded('backend', () => backendCheck(config, probes, serve)));
  results.push(await guarded('gpu', () => gpuCheck(config, probes)));
  results.push(
    await guarded('disk', async () => {
      if (!existsSync(dataDir)) return fail('disk', `no data dir at ${dataDir}`, `make it with hearth init --data-dir ${dataDir}`);
      const space = await probes.disk(dataDir);
      const parts = { models: treeSize(join(dataDir, 'models')), 'fine-tune jobs': treeSize(join(dataDir, 'finetune', 'jobs')), backups: treeSize(backupDir), database: treeSize(dbPath) + treeSize(`${dbPath}-wal`) };
      return diskCheck(dataDir, { ...space, parts });
    }),
  );
  results.push(listenCheck(config));
  results.push(await guarded('trainer-llamacpp', () => llamacppTrainerCheck(config, probes)));
  results.push(await guarded('trainer-peft', () => peftTrainerCheck(config, probes)));
  results.push(clockCheck(config.timezone, probes.clock.now(), probes.systemTimeZone, facts.state === 'read' ? facts.newestCharge : null));
  return results;
}

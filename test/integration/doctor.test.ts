// `hearth doctor` as an operator runs it, on the data dir of a real `hearth serve`: it passes
// on a fresh install whose daemon runs, and reports each deliberately broken thing as a fail
// that names the fix: a config typo, a server secret readable by others, a corrupted copy of
// the database, the daemon (and so its backend) stopped.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { corruptMiddle } from '../helpers/database-files.js';
import { runHearth } from '../helpers/hearth-cli.js';

interface Check {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  message: string;
  fix?: string;
}

/** The daemon's own settings (startDaemonProcess's), so doctor reads the config the daemon runs with. */
const daemonEnv = { HEARTH_BACKEND_MODE: 'engine', HEARTH_ENGINE_LISTEN: '127.0.0.1:0', HEARTH_ENGINE_GPU: 'off', HEARTH_ENGINE_THREADS: '1' };

const hearth = (args: string[]) => runHearth(args, daemonEnv);

async function doctor(args: string[]): Promise<{ code: number; checks: Check[]; text: string }> {
  const json = await hearth(['doctor', '--json', ...args]);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: Check[] };
  assert.equal(parsed.ok, json.code === 0, 'ok in the JSON agrees with the exit status');
  const text = await hearth(['doctor', ...args]);
  assert.equal(text.code, json.code);
  return { code: json.code, checks: parsed.checks, text: text.stdout };
}

const find = (checks: Check[], name: string): Check => {
  const c = checks.find((x) => x.check === name);
  assert.ok(c, `no ${name} check in ${JSON.stringify(checks)}`);
  return c;
};


describe('hearth doctor on a real install', () => {
  let d: DaemonProcess;
  let dataDir: string;
  const scratch = mkdtempSync(join(tmpdir(), 'hearth-doctor-it-'));
  before(async () => {
    dataDir = join(scratch, 'data');
    d = await startDaemonProcess({ dataDir });
  });
  after(async () => {
    await d?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('passes on a fresh data dir while its daemon runs: no fail line, and the backend answers with its models', async () => {
    const { code, checks, text } = await doctor(['--data-dir', dataDir]);
    assert.equal(code, 0, text);
    assert.deepEqual(checks.filter((c) => c.status === 'fail'), [], text);
    assert.equal(checks.length, 13);
    for (const line of text.split('\n').slice(0, 13)) assert.match(line, /^(ok  |warn|fail)  \S+ +\S/, 'one line per check');
    const backend = find(checks, 'backend');
    assert.equal(backend.status, 'ok', backend.message);
    assert.match(backend.message, new RegExp(`^engine \\S+ at http://127\\.0\\.0\\.1:\\d+, the backend of hearth serve pid ${d.child.pid}: 1 model \\(hearth-demo:latest\\)`));
    assert.equal(find(checks, 'database').status, 'ok');
    assert.equal(find(checks, 'server-secret').status, 'ok');
  });

  it('a config typo is a fail naming the key', async () => {
    const file = join(scratch, 'typo.yaml');
    writeFileSync(file, 'limits:\n  max_tokenz: 100\n');
    const { code, checks } = await doctor(['--config', file, '--data-dir', dataDir]);
    assert.equal(code, 1);
    const config = find(checks, 'config');
    assert.equal(config.status, 'fail');
    assert.match(config.message, /limits\.max_tokenz: unknown key \(did you mean limits\.max_tokens\?\)/);
    assert.match(config.fix ?? '', new RegExp(`correct the key named in ${file}`));
  });

  it('a server secret readable by others is a fail naming chmod 600', async () => {
    const secret = join(dataDir, 'server-secret');
    chmodSync(secret, 0o644);
    try {
      const { code, checks } = await doctor(['--data-dir', dataDir]);
      assert.equal(code, 1);
      const c = find(checks, 'server-secret');
      assert.equal(c.status, 'fail');
      assert.match(c.message, /mode 0644/);
      assert.equal(c.fix, `chmod 600 ${secret}`);
    } finally {
      chmodSync(secret, 0o600);
    }
  });

  it('under a systemd credential ($CREDENTIALS_DIRECTORY) the secret checked is the credential, as the daemon reads it', async () => {
    const credentials = join(scratch, 'credentials');
    mkdirSync(credentials, { recursive: true });
    const secret = join(credentials, 'server-secret');
    copyFileSync(join(dataDir, 'server-secret'), secret);
    chmodSync(secret, 0o644);
    const json = await runHearth(['doctor', '--json', '--data-dir', dataDir], { ...daemonEnv, CREDENTIALS_DIRECTORY: credentials });
    const c = find((JSON.parse(json.stdout) as { checks: Check[] }).checks, 'server-secret');
    assert.equal(c.status, 'fail');
    assert.match(c.message, new RegExp(credentials.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.equal(c.fix, `chmod 600 ${secret}`);
  });

  it('a corrupted copy of the database is a fail naming hearth restore', async () => {
    const copyDir = join(scratch, 'copy');
    // A consistent copy of the live database (the file alone lacks what is still in its WAL).
    const made = await hearth(['backup', '--data-dir', dataDir, '--out', join(scratch, 'live.db')]);
    assert.equal(made.code, 0, made.stderr);
    mkdirSync(copyDir, { mode: 0o700 });
    copyFileSync(join(scratch, 'live.db'), join(copyDir, 'hearth.db'));
    corruptMiddle(join(copyDir, 'hearth.db'));
    const { code, checks } = await doctor(['--data-dir', copyDir]);
    assert.equal(code, 1);
    const c = find(checks, 'database');
    assert.equal(c.status, 'fail');
    assert.match(c.message, /(fails integrity_check|cannot be read)/);
    assert.match(c.fix ?? '', /stop the daemon and put back the newest good backup: hearth restore FILE/);
  });

  it('the daemon stopped, and with it the backend: a fail naming how to start it', async () => {
    await d.stop();
    const { code, checks } = await doctor(['--data-dir', dataDir]);
    assert.equal(code, 1);
    const c = find(checks, 'backend');
    assert.equal(c.status, 'fail');
    assert.match(c.message, new RegExp(`hearth serve is not running on ${dataDir}`));
    assert.match(c.fix ?? '', new RegExp(`systemctl start hearth \\(or hearth serve --data-dir ${dataDir}\\)`));
    assert.equal(find(checks, 'database').status, 'ok', 'the database of a stopped daemon reads as well');
  });
});

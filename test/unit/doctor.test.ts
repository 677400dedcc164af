// Each check of `hearth doctor` in each state it tells apart: the data dir's files are real
// files in a temp folder, and what doctor asks of the machine (the daemon's lock, the backend,
// GPUs, disk space, trainers, the clock) comes from injected probes.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { defaultConfig } from '../../src/config/load.js';
import type { ConfigOverrides } from '../../src/config/load.js';
import { loadMigrations, openDatabase } from '../../src/db/database.js';
import { writeBackendRecord } from '../../src/daemon/backend-record.js';
import { writeEngineSecret } from '../../src/daemon/engine-secret-file.js';
import { loadSecrets } from '../../src/daemon/secrets.js';
import { ManualClock } from '../../src/domain/clock.js';
import { anyFailed, formatResults, type CheckResult } from '../../src/doctor/check.js';
import { databaseCheck, readDatabaseFacts } from '../../src/doctor/database-check.js';
import { runDoctor } from '../../src/doctor/doctor.js';
import { dataDirCheck, diskCheck, secretFileCheck } from '../../src/doctor/file-checks.js';
import { backendCheck, gpuCheck, llamacppTrainerCheck, peftTrainerCheck } from '../../src/doctor/machine-checks.js';
import type { BackendAnswer, DoctorProbes, GpuInfo, PythonAnswer } from '../../src/doctor/probes.js';
import { clockCheck, listenCheck, nodeCheck } from '../../src/doctor/runtime-checks.js';
import { corruptMiddle } from '../helpers/database-files.js';
import { tempDir } from '../helpers/domain-db.js';

const LATEST = loadMigrations().length;
const GIB = 2 ** 30;
const uid = process.getuid?.() ?? 1000;

/** Status and check name, then the message and fix for the assertion's message. */
const outcome = (r: CheckResult) => [r.check, r.status];
const said = (r: CheckResult) => `${r.message} — ${r.fix ?? ''}`;


function probes(over: Partial<DoctorProbes> = {}): DoctorProbes {
  return {
    nodeVersion: '20.11.1',
    uid,
    clock: new ManualClock('2025-05-01T10:00:00Z'),
    systemTimeZone: 'UTC',
    daemon: () => ({ held: true, pid: 4242 }),
    backend: async () => ({ ok: true, version: '0.9.0', models: ['hearth-demo:latest'], loaded: [] }),
    gpus: async () => [],
    disk: async () => ({ freeBytes: 100 * GIB, totalBytes: 500 * GIB }),
    llamaBins: async () => ({ flavor: 'cpu', dir: '/opt/hearth/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64' }),
    python: async () => ({ found: true, python: '3.11.7', modules: { torch: '2.3.0', transformers: '4.44.0', peft: '0.12.0' } }),
    ...over,
  };
}

describe('hearth doctor: checks', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('hearth-doctor-')));
  afterEach(() => cleanup());
  const config = (overrides: ConfigOverrides = {}) => defaultConfig({ overrides: { data_dir: dir, ...overrides } });

  it('node: at least the major of package.json engines', () => {
    assert.deepEqual(outcome(nodeCheck('20.11.1', '>=20')), ['node', 'ok']);
    const old = nodeCheck('18.19.0', '>=20');
    assert.deepEqual(outcome(old), ['node', 'fail']);
    assert.match(said(old), /Node 18\.19\.0; Hearth needs >=20 — install Node 20 or newer/);
  });

  it('data dir: missing, owned by another user, world-writable, open to others, 0700', () => {
    const missing = dataDirCheck(join(dir, 'nope'), uid);
    assert.deepEqual(outcome(missing), ['data-dir', 'fail']);
    assert.match(said(missing), /hearth init --data-dir/);
    chmodSync(dir, 0o700);
    assert.deepEqual(outcome(dataDirCheck(dir, uid)), ['data-dir', 'ok']);
    const other = dataDirCheck(dir, uid + 1);
    assert.deepEqual(outcome(other), ['data-dir', uid + 1 === 0 ? 'warn' : 'fail']);
    assert.match(said(other), /sudo -u hearth hearth doctor/);
    if (uid !== 0) assert.deepEqual(outcome(dataDirCheck(dir, 0)), ['data-dir', 'warn'], 'root reads it all: said, not failed');
    chmodSync(dir, 0o755);
    const open = dataDirCheck(dir, uid);
    assert.deepEqual(outcome(open), ['data-dir', 'warn']);
    assert.match(said(open), new RegExp(`mode 0755.*chmod 700 ${dir}`));
    chmodSync(dir, 0o777);
    const writable = dataDirCheck(dir, uid);
    assert.deepEqual(outcome(writable), ['data-dir', 'fail']);
    assert.match(said(writable), /writable by every user \(mode 0777\).*chmod 700/);
    chmodSync(dir, 0o700);
  });

  it('secret files: 0600 (or 0400) ok; readable by others a fail naming chmod 600; missing a fail naming how it comes back', () => {
    const file = join(dir, 'server-secret');
    const missing = secretFileCheck('server-secret', file, uid, 'hearth init');
    assert.deepEqual(outcome(missing), ['server-secret', 'fail']);
    assert.match(said(missing), /no .*server-secret — hearth init/);
    writeFileSync(file, 'x', { mode: 0o600 });
    chmodSync(file, 0o600);
    assert.deepEqual(outcome(secretFileCheck('server-secret', file, uid, '')), ['server-secret', 'ok']);
    chmodSync(file, 0o400);
    assert.deepEqual(outcome(secretFileCheck('server-secret', file, uid, '')), ['server-secret', 'ok']);
    chmodSync(file, 0o644);
    const open = secretFileCheck('server-secret', file, uid, '');
    assert.deepEqual(outcome(open), ['server-secret', 'fail']);
    assert.equal(open.fix, `chmod 600 ${file}`);
    assert.match(open.message, /mode 0644: other users may read it/);
  });

  it('database: current, older (migrates at start), newer (restore or upgrade), corrupted, not Hearth, missing', () => {
    const path = join(dir, 'hearth.db');
    const check = () => databaseCheck(path, readDatabaseFacts(path), LATEST, join(dir, 'backups'));
    const missing = check();
    assert.deepEqual(outcome(missing), ['database', 'fail']);
    assert.match(said(missing), /hearth init/);

    openDatabase(path).close();
    const current = check();
    assert.deepEqual(outcome(current), ['database', 'ok']);
    assert.match(current.message, new RegExp(`integrity ok; schema version ${LATEST} \\(current\\)`));
    const facts = readDatabaseFacts(path);
    assert.equal(facts.state, 'read');

    const setVersion = (v: number) => {
      const db = new BetterSqlite3(path);
      db.pragma(`user_version = ${v}`);
      db.close();
    };
    setVersion(LATEST - 2);
    const older = check();
    assert.deepEqual(outcome(older), ['database', 'ok']);
    assert.match(older.message, new RegExp(`schema version ${LATEST - 2}, which hearth serve will migrate to ${LATEST} at its start`));
    setVersion(LATEST + 3);
    const newer = check();
    assert.deepEqual(outcome(newer), ['database', 'fail']);
    assert.match(said(newer), new RegExp(`schema version ${LATEST + 3}, newer than this Hearth knows \\(${LATEST}\\) — restore or upgrade`));
    setVersion(0);
    assert.deepEqual(outcome(check()), ['database', 'fail']);
    setVersion(LATEST);

    corruptMiddle(path);
    const corrupt = check();
    assert.deepEqual(outcome(corrupt), ['database', 'fail']);
    assert.match(corrupt.message, /(fails integrity_check|cannot be read)/);
    assert.match(corrupt.fix ?? '', new RegExp(`hearth restore FILE \\(the daily ones are in ${join(dir, 'backups')}\\)`));

    writeFileSync(path, 'not a database at all, but long enough to have a header of sorts'.repeat(100));
    const garbage = check();
    assert.deepEqual(outcome(garbage), ['database', 'fail']);
    assert.match(garbage.message, /cannot be read: file is not a database/);
  });

  it('backend: no daemon (a fail naming how to start it), starting, answering with and without models, down, refusing the secret', async () => {
    const c = config();
    const stopped = await backendCheck(c, probes({ daemon: () => ({ held: false }) }));
    assert.deepEqual(outcome(stopped), ['backend', 'fail']);
    assert.match(said(stopped), new RegExp(`hearth serve is not running on ${dir}.* — start it: systemctl start hearth \\(or hearth serve --data-dir ${dir}\\)`));

    assert.deepEqual(outcome(await backendCheck(c, probes())), ['backend', 'warn'], 'held, but no backend.json yet: starting');

    await writeBackendRecord(dir, { kind: 'engine', url: 'http://127.0.0.1:41234', pid: 4242 });
    await writeEngineSecret(dir, 'the-engine-secret');
    const asked: Array<[string, Record<string, string>]> = [];
    const answering = (answer: BackendAnswer) => probes({ backend: async (url, headers) => (asked.push([url, headers]), answer) });
    const up = await backendCheck(c, answering({ ok: true, version: '0.9.0', models: ['a:latest', 'b:latest'], loaded: ['a:latest'] }));
    assert.deepEqual(outcome(up), ['backend', 'ok']);
    assert.equal(up.message, 'engine 0.9.0 at http://127.0.0.1:41234, the backend of hearth serve pid 4242: 2 models (a:latest, b:latest); loaded: a:latest');
    assert.deepEqual(asked[0], ['http://127.0.0.1:41234', { authorization: 'Bearer the-engine-secret' }], "the engine is asked with the daemon's secret");

    const empty = await backendCheck(c, answering({ ok: true, version: '0.9.0', models: [], loaded: [] }));
    assert.deepEqual(outcome(empty), ['backend', 'warn']);
    assert.match(said(empty), /hearth models import FILE\.gguf --name NAME/);

    const down = await backendCheck(c, answering({ ok: false, error: 'GET http://127.0.0.1:41234/api/version: connect ECONNREFUSED' }));
    assert.deepEqual(outcome(down), ['backend', 'fail']);
    assert.match(said(down), /does not answer: .*ECONNREFUSED — read why in the daemon's log \(journalctl -u hearth -e\)/);

    const refused = await backendCheck(c, answering({ ok: false, status: 401, error: 'answered 401' }));
    assert.deepEqual(outcome(refused), ['backend', 'fail']);
    assert.match(said(refused), /systemctl restart hearth/);

    const stale = await backendCheck(c, probes({ daemon: () => ({ held: false }) }), 'hearth serve --config /etc/hearth/config.yaml');
    assert.match(said(stale), /backend\.json is left from pid 4242, which is gone.*hearth serve --config \/etc\/hearth\/config\.yaml/);
  });

  it('gpu: none (CPU only), none with engine.gpu off, one with driver and free VRAM, one without a driver, GPUs left unused', async () => {
    const gpus = (list: GpuInfo[]) => probes({ gpus: async () => list });
    const none = await gpuCheck(config(), gpus([]));
    assert.deepEqual(outcome(none), ['gpu', 'warn']);
    assert.match(none.message, /no GPU found: models run on the CPU only/);
    assert.deepEqual(outcome(await gpuCheck(config({ 'engine.gpu': 'off' }), gpus([]))), ['gpu', 'ok']);
    const h100: GpuInfo = { model: 'NVIDIA H100 80GB HBM3', vendor: 'NVIDIA Corporation', driver: '550.54.15', vramTotalBytes: 80 * GIB, vramFreeBytes: 75.5 * GIB };
    const one = await gpuCheck(config(), gpus([h100]));
    assert.deepEqual(outcome(one), ['gpu', 'ok']);
    assert.equal(one.message, 'NVIDIA H100 80GB HBM3 (driver 550.54.15, 75.5 GiB of 80.0 GiB VRAM free)');
    const noDriver = await gpuCheck(config(), gpus([{ ...h100, driver: null, vramFreeBytes: null }]));
    assert.deepEqual(outcome(noDriver), ['gpu', 'warn']);
    assert.match(said(noDriver), /driver none, 80\.0 GiB VRAM\) — install the driver of NVIDIA H100/);
    const unused = await gpuCheck(config({ 'engine.gpu': 'off' }), gpus([h100]));
    assert.deepEqual(outcome(unused), ['gpu', 'warn']);
    assert.equal(unused.fix, 'set engine.gpu: auto');
  });

  it('disk: plenty ok; under 5 GiB or 10% a warning; under 512 MiB a fail; the parts are named', () => {
    const parts = { models: 40 * GIB, 'fine-tune jobs': 3 * 2 ** 20, backups: 0, database: 2 * 2 ** 20 };
    const plenty = diskCheck(dir, { freeBytes: 100 * GIB, totalBytes: 500 * GIB, parts });
    assert.deepEqual(outcome(plenty), ['disk', 'ok']);
    assert.equal(plenty.message, `100.0 GiB free of 500.0 GiB (20%) where ${dir} is; models 40.0 GiB, fine-tune jobs 3 MiB, backups 0 KiB, database 2 MiB`);
    assert.deepEqual(outcome(diskCheck(dir, { freeBytes: 4 * GIB, totalBytes: 20 * GIB, parts })), ['disk', 'warn']);
    assert.deepEqual(outcome(diskCheck(dir, { freeBytes: 40 * GIB, totalBytes: 2000 * GIB, parts })), ['disk', 'warn'], 'under 10%');
    const full = diskCheck(dir, { freeBytes: 100 * 2 ** 20, totalBytes: 500 * GIB, parts });
    assert.deepEqual(outcome(full), ['disk', 'fail']);
    assert.match(said(full), /cannot grow.*— free space on that disk, or move data_dir/);
  });

  it('listen: loopback ok; another address without TLS a warning; behind an https public_base_url ok', () => {
    assert.deepEqual(outcome(listenCheck(config())), ['listen', 'ok']);
    assert.deepEqual(outcome(listenCheck(config({ listen: '[::1]:8080' }))), ['listen', 'ok']);
    const open = listenCheck(config({ listen: '0.0.0.0:8080' }));
    assert.deepEqual(outcome(open), ['listen', 'warn']);
    assert.match(said(open), /0\.0\.0\.0:8080 is reachable from other machines without TLS \(public_base_url is not set\).*set public_base_url to its https:\/\/ URL, or listen on 127\.0\.0\.1:8080/);
    assert.deepEqual(outcome(listenCheck(config({ listen: '0.0.0.0:8080', public_base_url: 'http://hearth.lan:8080' }))), ['listen', 'warn']);
    assert.deepEqual(outcome(listenCheck(config({ listen: '0.0.0.0:8080', public_base_url: 'https://hearth.example.com' }))), ['listen', 'ok']);
  });

  it('trainers: llama.cpp libraries found or not; Python found, lacking modules, complete, with or without weights', async () => {
    assert.deepEqual(outcome(await llamacppTrainerCheck(config(), probes())), ['trainer-llamacpp', 'ok']);
    const noBins = probes({ llamaBins: async () => { throw new Error('no llama.cpp binaries of node-llama-cpp 3.22.1 for @node-llama-cpp/linux-x64'); } });
    const missing = await llamacppTrainerCheck(config(), noBins);
    assert.deepEqual(outcome(missing), ['trainer-llamacpp', 'fail'], 'the default trainer');
    assert.match(said(missing), /npm ci/);
    assert.deepEqual(outcome(await llamacppTrainerCheck(config({ 'finetune.trainer': 'peft' }), noBins)), ['trainer-llamacpp', 'warn']);

    const python = (answer: PythonAnswer) => probes({ python: async () => answer });
    const absent = await peftTrainerCheck(config(), python({ found: false, error: 'python3 not found' }));
    assert.deepEqual(outcome(absent), ['trainer-peft', 'warn']);
    assert.match(said(absent), /python3 not found \(finetune\.python\); needed only by jobs with trainer "peft" — install them/);
    const lacking = python({ found: true, python: '3.11.7', modules: { torch: '2.3.0', transformers: null, peft: null } });
    assert.match(said(await peftTrainerCheck(config(), lacking)), /lacks transformers, peft; needed only by jobs with trainer "peft" — install them into it \(python3 -m pip install torch transformers peft\)/);
    assert.deepEqual(outcome(await peftTrainerCheck(config({ 'finetune.trainer': 'peft' }), lacking)), ['trainer-peft', 'fail'], 'the default trainer');
    const complete = await peftTrainerCheck(config(), probes());
    assert.deepEqual(outcome(complete), ['trainer-peft', 'ok']);
    assert.match(complete.message, /torch 2\.3\.0, transformers 4\.44\.0, peft 0\.12\.0; set finetune\.hf_models_dir to use it/);
    assert.deepEqual(outcome(await peftTrainerCheck(config({ 'finetune.trainer': 'peft' }), probes())), ['trainer-peft', 'fail'], 'peft by default, with no weights');
    assert.deepEqual(outcome(await peftTrainerCheck(config({ 'finetune.trainer': 'peft', 'finetune.hf_models_dir': dir }), probes())), ['trainer-peft', 'ok']);
  });

  it("clock: the period in the config's zone; another machine zone said; a clock behind the ledger a fail", () => {
    const now = new Date('2025-04-30T22:30:00Z');
    const same = clockCheck('UTC', now, 'Etc/UTC', null);
    assert.deepEqual(outcome(same), ['clock', 'ok']);
    assert.match(same.message, /now 2025-04-30 22:30:00 in UTC \(timezone\), billing period 2025-04/);
    const paris = clockCheck('Europe/Paris', now, 'UTC', new Date('2025-04-30T22:00:00Z'));
    assert.deepEqual(outcome(paris), ['clock', 'warn']);
    assert.match(said(paris), /now 2025-05-01 00:30:00 in Europe\/Paris \(timezone\), billing period 2025-05; this machine's zone is UTC.* — set timezone: UTC/);
    const behind = clockCheck('UTC', now, 'UTC', new Date('2025-05-02T08:00:00Z'));
    assert.deepEqual(outcome(behind), ['clock', 'fail']);
    assert.match(said(behind), /newest row is dated 2025-05-02T08:00:00\.000Z: the clock is behind — .*timedatectl set-ntp true/);
  });

  it('one line per check, aligned, and a count; any fail makes the whole a fail', () => {
    const results: CheckResult[] = [
      { check: 'node', status: 'ok', message: 'Node 20' },
      { check: 'server-secret', status: 'fail', message: 'mode 0644', fix: 'chmod 600 x' },
    ];
    assert.equal(formatResults(results), ['ok    node           Node 20', 'fail  server-secret  mode 0644 — fix: chmod 600 x', '', '1 ok, 0 warn, 1 fail'].join('\n'));
    assert.equal(anyFailed(results), true);
    assert.equal(anyFailed(results.slice(0, 1)), false);
  });
});

describe('hearth doctor: the whole run', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('hearth-doctor-')));
  afterEach(() => cleanup());

  it('on a fresh data dir with its daemon running: every check in order, no fail', async () => {
    chmodSync(dir, 0o700);
    await loadSecrets(dir, 'file');
    openDatabase(join(dir, 'hearth.db')).close();
    await writeBackendRecord(dir, { kind: 'engine', url: 'http://127.0.0.1:41234', pid: 4242 });
    const results = await runDoctor({ dataDir: dir, env: {} }, probes());
    assert.deepEqual(
      results.map((r) => r.check),
      ['node', 'config', 'data-dir', 'database', 'server-secret', 'admin-token', 'backend', 'gpu', 'disk', 'listen', 'trainer-llamacpp', 'trainer-peft', 'clock'],
    );
    assert.deepEqual(results.filter((r) => r.status !== 'ok').map(outcome), [['gpu', 'warn']], formatResults(results));
  });

  it('a config typo fails naming the key, and the other checks still run on the defaults', async () => {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `data_dir: ${dir}\nlimits:\n  max_tokenz: 5\n`);
    const results = await runDoctor({ configFile: file, dataDir: dir, env: {} }, probes({ daemon: () => ({ held: false }) }));
    const config = results.find((r) => r.check === 'config')!;
    assert.equal(config.status, 'fail');
    assert.match(config.message, /limits\.max_tokenz: unknown key \(did you mean limits\.max_tokens\?\)/);
    assert.match(config.fix ?? '', new RegExp(`correct the key named in ${file}`));
    assert.equal(results.length, 13);
    assert.match(said(results.find((r) => r.check === 'backend')!), new RegExp(`hearth serve --config ${file}`), 'the fix starts the daemon with the config given');
  });

  it('a check that throws is a fail of its own; the others still run', async () => {
    const results = await runDoctor({ dataDir: dir, env: {} }, probes({ gpus: async () => { throw new Error('lspci crashed'); } }));
    assert.deepEqual(outcome(results.find((r) => r.check === 'gpu')!), ['gpu', 'fail']);
    assert.match(results.find((r) => r.check === 'gpu')!.message, /could not be checked: lspci crashed/);
    assert.equal(results.length, 13);
  });
});

// `hearth serve` and the admin CLI as an operator uses them: first start, config mistakes,
// CLI commands beside a running daemon, and SIGTERM draining a stream in flight.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { hearthBin } from '../helpers/engine-process.js';
import { productEnv, startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { isRunning, waitUntil } from '../helpers/processes.js';
import { testModelPath } from '../helpers/test-model.js';
import { pickFreePort } from '../../src/backend/free-port.js';

const run = promisify(execFile);

async function hearth(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [hearthBin, ...args], { env: productEnv(env), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('config mistakes stop serve with a message naming the key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-cfg-'));
  try {
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'engine:\n  paralel: 2\nlimits:\n  max_body: lots\n');
    const r = await hearth(['serve', '--config', file, '--data-dir', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /engine\.paralel: unknown key/);
    assert.match(r.stderr, /limits\.max_body/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
    // The admin commands read the same config and say the same, in one line.
    const admin = await hearth(['keys', 'list', '--config', file]);
    assert.equal(admin.code, 2);
    assert.match(admin.stderr, /engine\.paralel: unknown key/);
    assert.doesNotMatch(admin.stderr, /at .*\.js:\d+/);
    const env = await hearth(['serve', '--data-dir', dir], { HEARTH_LISTN: '1.2.3.4:5' });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /HEARTH_LISTN/);
    const missing = await hearth(['serve', '--config', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.yaml/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a data dir that cannot be made stops serve with one line naming it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-notdir-'));
  try {
    // A file where a folder must be: refused for root too, unlike a permission.
    await writeFile(join(dir, 'file'), '');
    const dataDir = join(dir, 'file', 'data');
    const r = await hearth(['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { HEARTH_BACKEND_MODE: 'engine', HEARTH_ENGINE_LISTEN: '127.0.0.1:0' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`ENOTDIR.*${dataDir}.*must be writable`));
    assert.doesNotMatch(r.stderr, /^\s+at .*:\d+/m);
    assert.match(r.stdout, /"message":"hearth did not start"/, 'and the log says so');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGTERM while the backend is still starting stops the daemon and the child it started at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-early-'));
  try {
    const child = spawn(process.execPath, [hearthBin, 'serve', '--data-dir', dir, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: productEnv({ HEARTH_BACKEND_MODE: 'engine', HEARTH_ENGINE_LISTEN: '127.0.0.1:0', HEARTH_ENGINE_GPU: 'off', HEARTH_ENGINE_THREADS: '1' }),
    });
    const lines: string[] = [];
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // The engine is spawned, the daemon not yet ready: signal it in that window.
    const enginePid = await new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        if (line.includes('"supervised process spawned"')) {
          child.kill('SIGTERM');
          resolve((JSON.parse(line) as { pid: number }).pid);
        }
      });
      child.once('exit', () => reject(new Error(`exited before the engine was spawned: ${lines.join('\n')}`)));
    });
    assert.equal(await exited, 143, 'an exit of its own, not death by the signal');
    assert.ok(lines.some((l) => l.includes('"stopped while starting"')), 'and it says so');
    // Killed by the daemon's exit hook, not left to notice its parent is gone (--parent-pid polls).
    assert.equal(isRunning(enginePid), false, 'the engine it had started is gone with it');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('init prepares a data dir once: the admin token is printed by the run that made it, files are 0600', async () => {
  const dir = join(await mkdtemp(join(tmpdir(), 'hearth-init-')), 'data');
  try {
    // Only init and serve make a data dir: the other commands refuse a missing one, and leave it missing.
    const early = await hearth(['workspaces', 'list', '--data-dir', dir]);
    assert.equal(early.code, 1);
    assert.match(early.stderr, new RegExp(`no Hearth data dir at ${dir}`));
    await assert.rejects(stat(dir), /ENOENT/);
    const first = await hearth(['init', '--data-dir', dir, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const made = JSON.parse(first.stdout) as { data_dir: string; admin_token: string | null; admin_token_file: string };
    assert.equal(made.data_dir, dir);
    assert.match(made.admin_token ?? '', /^hth_admin_[A-Za-z0-9_-]{32}$/);
    assert.equal(made.admin_token_file, join(dir, 'admin-token'));
    assert.equal((await readFile(made.admin_token_file, 'utf8')).trim(), made.admin_token);
    for (const f of ['admin-token', 'server-secret']) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
    assert.equal((await stat(dir)).mode & 0o777, 0o700, 'the data dir is private');
    assert.ok((await readdir(dir)).some((f) => f.endsWith('.db') || f.endsWith('.sqlite')), 'the database is created');

    const again = await hearth(['init', '--data-dir', dir, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { admin_token: string | null }).admin_token, null, 'never printed twice');
    const plain = await hearth(['init', '--data-dir', dir]);
    assert.match(plain.stdout, /already initialized/);
    assert.doesNotMatch(plain.stdout, /hth_admin_/);
    const list = await hearth(['workspaces', 'list', '--data-dir', dir, '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), []);
  } finally {
    await rm(dirname(dir), { recursive: true, force: true });
  }
});

describe('the admin CLI beside a running daemon', () => {
  let d: DaemonProcess;
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hearth-cli-'));
    d = await startDaemonProcess({ dataDir });
  });
  after(async () => {
    await d?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a daemon that makes the admin token says where the file is, never the token (its stdout is the journal)', async () => {
    const file = join(dataDir, 'admin-token');
    assert.ok(d.stdout.some((l) => l.includes(`admin token for this data dir: it is in ${file}`)), 'the first start names the file');
    assert.ok(!d.stdout.some((l) => l.includes(d.adminToken)), 'and never prints the token');
    await d.stop();
    d = await startDaemonProcess({ dataDir });
    assert.ok(!d.stdout.some((l) => l.includes('admin token')), 'a restart, which made nothing, says nothing about it');
  });

  test('workspaces, keys, plans and usage from the CLI act on the running daemon', async () => {
    const dd = ['--data-dir', dataDir];
    const ws = await hearth(['workspaces', 'create', 'team', '--plan', 'paid_chat', ...dd, '--json']);
    assert.equal(ws.code, 0, ws.stderr);
    const created = await hearth(['keys', 'create', '--workspace', 'team', '--name', 'ci', ...dd, '--json']);
    assert.equal(created.code, 0, created.stderr);
    const { key, id } = JSON.parse(created.stdout) as { key: string; id: string };
    const chat = () =>
      fetch(`${d.url}/api/v1/chat`, { method: 'POST', headers: { 'x-api-key': key }, body: JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }) });
    assert.equal((await chat()).status, 200);
    const plans = await hearth(['plans', 'set', 'paid_chat', '--rpm', '42', ...dd]);
    assert.equal(plans.code, 0, plans.stderr);
    assert.equal((await chat()).headers.get('x-ratelimit-limit'), '42', 'the daemon sees the new limit');
    const usage = await hearth(['usage', '--workspace', 'team', ...dd, '--json']);
    const [report] = JSON.parse(usage.stdout) as Array<{ credits: { used: number } }>;
    assert.equal(report?.credits.used, 2);
    const listed = await hearth(['keys', 'list', '--workspace', 'team', ...dd]);
    assert.match(listed.stdout, new RegExp(id));
    // The secret is base64url, so it may hold "_" itself: everything after hth_<id>_.
    const secret = key.split('_').slice(2).join('_');
    assert.ok(!listed.stdout.includes(secret), 'the secret is never listed');
    assert.equal((await hearth(['keys', 'revoke', id, ...dd])).code, 0);
    assert.equal((await chat()).status, 401);
    assert.equal((await hearth(['plans', 'set', 'paid_chat', '--rpm', '300', ...dd])).code, 0);
    // Credit costs are the operator's too.
    const { key: k2 } = await d.keyFor('paid_chat');
    assert.equal((await hearth(['endpoints', 'set', 'POST /generate', '--credits', '7', ...dd])).code, 0);
    const gen = await fetch(`${d.url}/api/v1/generate`, { method: 'POST', headers: { 'x-api-key': k2 }, body: JSON.stringify({ model: 'hearth-demo', prompt: 'x', max_tokens: 1 }) });
    assert.equal(gen.status, 200);
    const u2 = (await (await fetch(`${d.url}/api/v1/usage`, { headers: { 'x-api-key': k2 } })).json()) as { credits: { used: number } };
    assert.equal(u2.credits.used, 7);
    const listedCosts = await d.admin<{ endpoints: Array<{ endpoint: string; credits: number }> }>('GET', '/api/admin/endpoints');
    assert.equal(listedCosts.body.endpoints.find((e) => e.endpoint === 'POST /generate')?.credits, 7);
    assert.equal((await d.admin('PUT', '/api/admin/endpoints', { endpoint: 'POST /generate', credits: 1 })).status, 200);
    const when = await hearth(['keys', 'create', '--workspace', 'team', '--expires', 'next week', ...dd]);
    assert.equal(when.code, 2);
    assert.match(when.stderr, /--expires must be an ISO 8601 date-time/);
    const bad = await hearth(['workspaces', 'create', 'x', '--plan', 'nope', ...dd]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /nope/);

    // keys create --plan: the workspace and its key in one step, or nothing at all.
    const wsCount = async () => (JSON.parse((await hearth(['workspaces', 'list', ...dd, '--json'])).stdout) as unknown[]).length;
    const before = await wsCount();
    const beyond = await hearth(['keys', 'create', '--workspace', 'solo', '--plan', 'trial_chat', '--scopes', 'chat,chat_agent_train', ...dd]);
    assert.equal(beyond.code, 2);
    assert.match(beyond.stderr, /chat_agent_train/);
    assert.equal(await wsCount(), before, 'a key that cannot be made leaves no workspace behind');
    const solo = await hearth(['keys', 'create', '--workspace', 'solo', '--plan', 'trial_chat', ...dd, '--json']);
    assert.equal(solo.code, 0, solo.stderr);
    const soloKey = (JSON.parse(solo.stdout) as { key: string }).key;
    const soloUsage = (await (await fetch(`${d.url}/api/v1/usage`, { headers: { 'x-api-key': soloKey } })).json()) as { plan: { id: string } };
    assert.equal(soloUsage.plan.id, 'trial_chat');
    assert.equal((await hearth(['keys', 'create', '--workspace', 'solo', '--plan', 'trial_chat', ...dd])).code, 0, 'the same plan again: another key');
    const moved = await hearth(['keys', 'create', '--workspace', 'solo', '--plan', 'enterprise', ...dd]);
    assert.equal(moved.code, 2);
    assert.match(moved.stderr, /solo is on plan trial_chat, not enterprise/);
    assert.equal((await hearth(['keys', 'create', '--workspace', 'nobody', ...dd])).code, 1, 'without --plan the workspace must exist');
    assert.equal((await hearth(['keys', 'create', '--workspace', 'SOLO', '--plan', 'trial_chat', ...dd])).code, 0, 'names are case-insensitive');
    // workspaces set: plan and budget together, or neither.
    const soloView = async () => (JSON.parse((await hearth(['workspaces', 'list', ...dd, '--json'])).stdout) as Array<{ name: string; plan: string; monthly_credits: number | null }>).find((w) => w.name === 'solo');
    const set = await hearth(['workspaces', 'set', 'solo', '--plan', 'paid_chat', '--credits', '5', ...dd]);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(await soloView(), { ...(await soloView())!, plan: 'paid_chat', monthly_credits: 5 });
    const half = await hearth(['workspaces', 'set', 'solo', '--plan', 'chat_agent', '--credits', 'lots', ...dd]);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /--credits/);
    const refusedPlan = await hearth(['workspaces', 'set', 'solo', '--credits', '9', '--plan', 'gold', ...dd]);
    assert.notEqual(refusedPlan.code, 0);
    assert.deepEqual([(await soloView())?.plan, (await soloView())?.monthly_credits], ['paid_chat', 5], 'a refused change changes nothing');
    assert.equal((await hearth(['workspaces', 'set', 'solo', '--credits', 'plan', ...dd])).code, 0);
    assert.equal((await soloView())?.monthly_credits, null, "the plan's budget again");
    assert.equal((await hearth(['workspaces', 'set', 'solo', '--plan', 'trial_chat', ...dd])).code, 0);
    // A flag a command does not use is refused, not ignored.
    const stray = await hearth(['keys', 'list', '--credits', '5', ...dd]);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /keys list does not take --credits/);
    assert.equal((await hearth(['usage', 'team', ...dd])).code, 2, 'nor a stray argument');
    // A plan's scopes are the operator's too: taken away, refused to its keys at once.
    const narrowed = await hearth(['plans', 'set', 'trial_chat', '--scopes', '', ...dd, '--json']);
    assert.equal(narrowed.code, 0, narrowed.stderr);
    assert.deepEqual((JSON.parse(narrowed.stdout) as { scopes: string[] }).scopes, []);
    const soloChat = await fetch(`${d.url}/api/v1/models`, { headers: { 'x-api-key': soloKey } });
    assert.equal(soloChat.status, 403);
    const wrong = await hearth(['plans', 'set', 'trial_chat', '--scopes', 'chat,admin', ...dd]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /unknown scope 'admin'/);
    assert.equal((await hearth(['plans', 'set', 'trial_chat', '--scopes', 'chat', ...dd])).code, 0);
    assert.equal((await fetch(`${d.url}/api/v1/models`, { headers: { 'x-api-key': soloKey } })).status, 200, 'given back');
  });

  // What a test daemon runs with (startDaemonProcess's settings), for serves started by hand here.
  const engineEnv = { HEARTH_BACKEND_MODE: 'engine', HEARTH_ENGINE_LISTEN: '127.0.0.1:0', HEARTH_ENGINE_GPU: 'off', HEARTH_ENGINE_THREADS: '1' };
  const stackLine = /^\s+at .*:\d+/m;

  test('one daemon per data dir: a second serve on it stops at once with a message naming the holder, the first keeps serving', async () => {
    const { key } = await d.keyFor('paid_chat');
    const second = await hearth(['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], engineEnv);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`data dir ${dataDir} is in use by another hearth serve \\(pid ${d.child.pid}\\)`));
    assert.doesNotMatch(second.stderr, stackLine, 'an operator mistake, not a crash: no stack trace');
    // It stopped before it touched anything: no backend, no release of the first one's reservations.
    assert.doesNotMatch(second.stdout, /inference backend chosen|released credits/);
    assert.equal((await d.api(key, 'POST', '/chat', { model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 })).status, 200);
  });

  test('a serve that cannot listen stops the engine it started and frees its data dir', async () => {
    const other = await mkdtemp(join(tmpdir(), 'hearth-port-'));
    try {
      const taken = new URL(d.url).host;
      const r = await hearth(['serve', '--data-dir', other, '--listen', taken], engineEnv);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`cannot listen on ${taken}: the address is already in use`));
      assert.doesNotMatch(r.stderr, stackLine);
      const spawned = r.stdout.split('\n').flatMap((l) => (l.includes('"supervised process spawned"') ? [(JSON.parse(l) as { pid: number }).pid] : []));
      assert.equal(spawned.length, 1, 'the engine had been started before the listen failed');
      assert.equal(alive(spawned[0]!), false, 'and was stopped');
      assert.ok(!(await readdir(other)).includes('serve.pid'), 'the data dir is no longer claimed');
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  test('SIGTERM lets a stream in flight finish, stops the engine and exits 0', async () => {
    const { key } = await d.keyFor('paid_chat');
    const health = (await d.admin<{ backend: { pid: number } }>('GET', '/api/v1/health')).body;
    const res = await fetch(`${d.url}/api/v1/chat/stream`, { method: 'POST', headers: { 'x-api-key': key }, body: JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'go' }], max_tokens: 400 }) });
    const reader = res.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    const code = d.stop('SIGTERM');
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.match(text, /data: \[DONE\]/, 'the stream finished');
    assert.equal(await code, 0);
    assert.equal(alive(health.backend.pid), false, 'the engine was stopped');
    d = await startDaemonProcess({ dataDir });
  });
});

describe('two daemons on one machine, and hearth models import finding the backend of each', () => {
  // What a newcomer does for a second instance: its own --data-dir and --listen, every other
  // setting as it is, so both want the same engine.listen. A port of our own stands in for the
  // default 11435, which other processes on a shared machine may hold.
  let enginePort: number;
  let dirs: string[] = [];
  let first: DaemonProcess | undefined;
  let second: DaemonProcess | undefined;
  const env = (port: number, nothingAt: number) => ({
    // The default mode, auto: no Ollama at backend.url (a port nothing listens on) nor on PATH.
    HEARTH_BACKEND_MODE: 'auto',
    HEARTH_BACKEND_URL: `http://127.0.0.1:${nothingAt}`,
    HEARTH_BACKEND_OLLAMA_PATH: '/nonexistent/ollama',
    HEARTH_ENGINE_LISTEN: `127.0.0.1:${port}`,
  });
  const engineOf = async (d: DaemonProcess) => (await d.admin<{ backend: { kind: string; url: string; pid: number } }>('GET', '/api/v1/health')).body.backend;
  const chat = async (d: DaemonProcess) => (await d.api((await d.keyFor('paid_chat')).key, 'POST', '/chat', { model: 'hearth-demo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 })).status;
  let nothingAt: number;

  before(async () => {
    enginePort = await pickFreePort('127.0.0.1');
    nothingAt = await pickFreePort('127.0.0.1');
    dirs = await Promise.all([1, 2, 3].map(() => mkdtemp(join(tmpdir(), 'hearth-two-'))));
    first = await startDaemonProcess({ dataDir: dirs[0], env: env(enginePort, nothingAt) });
    second = await startDaemonProcess({ dataDir: dirs[1], env: env(enginePort, nothingAt) });
  });
  after(async () => {
    await first?.stop();
    await second?.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('both start with the same engine.listen: the second engine takes a free port and the log says which setting chooses it; both serve a chat', async () => {
    const [a, b] = [await engineOf(first!), await engineOf(second!)];
    assert.equal(a.kind, 'engine');
    assert.equal(a.url, `http://127.0.0.1:${enginePort}`, 'the first has the configured port');
    assert.equal(b.kind, 'engine');
    assert.notEqual(b.url, a.url);
    const warning = second!.logs.find((l) => l.level === 'warn' && String(l.message).startsWith(`engine.listen 127.0.0.1:${enginePort} is held by another process`));
    assert.ok(warning, 'the second says so');
    assert.match(String(warning.message), new RegExp(`listens on ${new URL(b.url).host} instead; set engine\\.listen \\(HEARTH_ENGINE_LISTEN\\)`));
    assert.equal(await chat(first!), 200);
    assert.equal(await chat(second!), 200);
  });

  test('models import uploads into the backend of the daemon of --data-dir, the port it picked included', async () => {
    const r = await hearth(['models', 'import', await testModelPath(), '--name', 'second-only', '--data-dir', dirs[1]!]);
    assert.equal(r.code, 0, r.stderr);
    const listed = async (d: DaemonProcess) => (await d.admin<{ models: Array<{ id: string; on_backend: boolean }> }>('GET', '/api/admin/models')).body.models.map((m) => m.id);
    assert.ok((await listed(second!)).includes('second-only:latest'));
    assert.ok(!(await listed(first!)).includes('second-only:latest'), 'not into the other daemon');
  });

  test('an import that reaches nothing names the address, where it came from, and --backend', async () => {
    const model = await testModelPath();
    // The record goes with a daemon that stops; one killed leaves it, and the import says the daemon is gone.
    await first!.stop();
    await assert.rejects(stat(join(dirs[0]!, 'backend.json')), /ENOENT/, 'a stopped daemon removes its record');
    const engine = await engineOf(second!);
    await second!.stop('SIGKILL');
    await waitUntil(() => !isRunning(engine.pid), 10_000, 'the engine of the killed daemon stopped');
    const stale = await hearth(['models', 'import', model, '--name', 'x', '--data-dir', dirs[1]!]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, new RegExp(`cannot reach ${engine.url} \\(the engine backend of a hearth serve \\(pid ${second!.child.pid}\\) that is no longer running, from ${join(dirs[1]!, 'backend.json')}\\)`));
    assert.match(stale.stderr, /--backend URL/);
    assert.doesNotMatch(stale.stderr, /fetch failed|^\s+at /m);

    // No daemon has run on this data dir: the config's backend.url (mode auto), or engine.listen (mode engine).
    const none = await hearth(['models', 'import', model, '--name', 'x', '--data-dir', dirs[2]!], { HEARTH_BACKEND_URL: `http://127.0.0.1:${nothingAt}` });
    assert.equal(none.code, 1);
    assert.match(none.stderr, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${nothingAt} \\(backend\\.url of the config, as no hearth serve runs on data dir ${dirs[2]}`));
    assert.match(none.stderr, /ECONNREFUSED.*--backend URL/);
    const engineMode = await hearth(['models', 'import', model, '--name', 'x', '--data-dir', dirs[2]!], { HEARTH_BACKEND_MODE: 'engine', HEARTH_ENGINE_LISTEN: `127.0.0.1:${nothingAt}` });
    assert.match(engineMode.stderr, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${nothingAt} \\(engine\\.listen of the config`));
    const portZero = await hearth(['models', 'import', model, '--name', 'x', '--data-dir', dirs[2]!], { HEARTH_BACKEND_MODE: 'engine', HEARTH_ENGINE_LISTEN: '127.0.0.1:0' });
    assert.equal(portZero.code, 2);
    assert.match(portZero.stderr, /engine\.listen port 0 is chosen at each start: start hearth serve with this config, or give --backend URL/);
    const both = await hearth(['models', 'import', model, '--name', 'x', '--data-dir', dirs[2]!, '--backend', 'http://127.0.0.1:9']);
    assert.equal(both.code, 2, 'one way to name the server');
  });
});

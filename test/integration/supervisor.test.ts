// The Supervisor against small real child processes (node scripts written to a temp dir):
// health, crash and restart with backoff, SIGTERM then SIGKILL, process groups, stderr tail,
// start timeout, stall, stop, and the daemon-exit hook. Waits are bounded; durations are never
// asserted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type SpawnOptions } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { HearthError } from '../../src/errors.js';
import { pickFreePort } from '../../src/backend/free-port.js';
import { Supervisor, type SupervisorOptions, type SupervisorState } from '../../src/supervisor/supervisor.js';
import { registeredGroups } from '../../src/supervisor/process-group.js';
import { captureLogger, isRunning, liveGroupMembers, waitUntil } from '../helpers/processes.js';

const scripts = {
  // Children of Node get sockets, not pipes, as stdio, and writes to those are asynchronous: a
  // script that calls process.exit() right after writing may lose the text, so these wait for it.
  // Answers HTTP on argv[2]; with argv[3] > 0, exits with code 3 that many ms after listening.
  server: `
    import { createServer } from 'node:http';
    const port = Number(process.argv[2]);
    const crashAfterMs = Number(process.argv[3] ?? 0);
    createServer((req, res) => res.end('ok')).listen(port, '127.0.0.1', () => {
      if (crashAfterMs > 0) setTimeout(() => process.stderr.write('crashing on purpose\\n', () => process.exit(3)), crashAfterMs);
    });
  `,
  sleeper: `
    setInterval(() => {}, 1000);
    process.stdout.write('ready\\n');
  `,
  ignoreTerm: `
    process.on('SIGTERM', () => process.stderr.write('got SIGTERM, ignoring it\\n'));
    setInterval(() => {}, 1000);
    process.stdout.write('ready\\n');
  `,
  // Starts a grandchild in the same process group that ignores SIGTERM; argv[2] = 'crash' makes
  // the child exit on its own once the grandchild runs.
  withGrandchild: `
    import { spawn } from 'node:child_process';
    const grandchild = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); process.stdout.write('up\\\\n')"], { stdio: ['ignore', 'pipe', 'inherit'] });
    grandchild.stdout.once('data', () => {
      process.stdout.write('grandchild ' + grandchild.pid + '\\n');
      if (process.argv[2] === 'crash') setTimeout(() => process.exit(5), 50);
    });
    setInterval(() => {}, 1000);
  `,
  noisy: `
    for (let i = 0; i < 2000; i++) process.stderr.write('noise line ' + i + '\\n');
    process.stderr.write('LAST LINE before exit\\n');
    process.exitCode = 7;
  `,
  // A one-shot worker: says something, exits 0.
  clean: `
    process.stderr.write('all done\\n', () => process.exit(0));
  `,
};

type ScriptName = keyof typeof scripts;

describe('Supervisor', () => {
  let dir: string;
  const path = (name: ScriptName) => join(dir, `${name}.mjs`);
  const supervisors: Supervisor[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hearth-supervisor-'));
    for (const [name, source] of Object.entries(scripts)) await writeFile(join(dir, `${name}.mjs`), source);
  });
  after(async () => {
    await Promise.all(supervisors.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  function supervise(script: ScriptName, args: string[], overrides: Partial<SupervisorOptions> = {}) {
    const captured = captureLogger();
    const sup = new Supervisor({
      name: script,
      command: process.execPath,
      args: [path(script), ...args],
      log: captured.log,
      healthIntervalMs: 50,
      startTimeoutMs: 10_000,
      restart: false,
      stopTimeoutMs: 5000,
      stderrTailBytes: 4096,
      ...overrides,
    });
    supervisors.push(sup);
    const states: SupervisorState[] = [];
    sup.on('state', (s) => states.push(s));
    return { sup, states, entries: captured.entries };
  }

  const httpHealth = (port: number) => async (signal: AbortSignal) => (await fetch(`http://127.0.0.1:${port}/`, { signal })).ok;

  /** Resolves on the first line for which `match` returns a value. */
  const lineWaiter = <T>(match: (line: string) => T | undefined) => {
    let resolveLine!: (value: T) => void;
    const found = new Promise<T>((r) => (resolveLine = r));
    const onStdoutLine = (line: string) => {
      const value = match(line);
      if (value !== undefined) resolveLine(value);
    };
    return { found, onStdoutLine };
  };

  test('start resolves once the child answers its health check; stop ends it with SIGTERM', async () => {
    const port = await pickFreePort('127.0.0.1');
    const { sup, states } = supervise('server', [String(port)], { health: httpHealth(port) });
    await sup.start();
    assert.equal(sup.state, 'running');
    assert.deepEqual(states, ['starting', 'running']);
    const pid = sup.pid;
    assert.ok(pid !== undefined && isRunning(pid));
    assert.ok(registeredGroups().includes(pid), 'the group is in the exit registry while it lives');
    await sup.waitUntilRunning(1000);

    await sup.stop();
    assert.equal(sup.state, 'stopped');
    assert.equal(sup.pid, undefined);
    assert.equal(sup.lastExit?.reason, 'stop');
    assert.equal(sup.lastExit?.signal, 'SIGTERM');
    assert.ok(!isRunning(pid));
    assert.ok(!registeredGroups().includes(pid));
    await assert.rejects(sup.waitUntilRunning(1000), (err: HearthError) => err.kind === 'unavailable');
  });

  test('a crashing child is restarted with a growing backoff, each exit logged with its stderr tail', async () => {
    const port = await pickFreePort('127.0.0.1');
    const { sup, entries } = supervise('server', [String(port), '300'], {
      health: httpHealth(port),
      restart: { initialDelayMs: 20, maxDelayMs: 80, factor: 2, resetAfterMs: 60_000 },
    });
    const delays: number[] = [];
    const pids = new Set<number>();
    sup.on('restart', ({ delayMs }) => delays.push(delayMs));
    sup.on('spawn', (pid) => pids.add(pid));
    await sup.start().catch(() => undefined); // on a loaded machine it may crash before its first check
    await waitUntil(() => delays.length >= 4, 20_000, 'four restarts were scheduled');
    await sup.stop();

    assert.deepEqual(delays.slice(0, 4), [20, 40, 80, 80], 'doubles from initialDelayMs up to maxDelayMs');
    assert.ok(sup.restarts >= 4);
    assert.ok(pids.size >= 4, 'each restart is a new process');
    const crashes = entries.filter((e) => e.message === 'supervised process exited with code 3: crashing on purpose');
    assert.ok(crashes.length >= 4, 'every crash is logged');
    assert.match(String(crashes[0]?.stderrTail), /crashing on purpose/);
  });

  test('the backoff resets after a run stayed healthy for resetAfterMs', async () => {
    const port = await pickFreePort('127.0.0.1');
    const { sup } = supervise('server', [String(port), '500'], {
      health: httpHealth(port),
      restart: { initialDelayMs: 20, maxDelayMs: 1000, factor: 4, resetAfterMs: 10 },
    });
    const delays: number[] = [];
    sup.on('restart', ({ delayMs }) => delays.push(delayMs));
    await sup.start();
    await waitUntil(() => delays.length >= 3, 20_000, 'three restarts were scheduled');
    await sup.stop();
    assert.deepEqual(delays.slice(0, 3), [20, 20, 20]);
  });

  test('stop sends SIGTERM, then SIGKILL to a child that ignores SIGTERM', async () => {
    const ready = lineWaiter((line) => (line === 'ready' ? true : undefined));
    const { sup } = supervise('ignoreTerm', [], { stopTimeoutMs: 300, onStdoutLine: ready.onStdoutLine });
    await sup.start();
    await ready.found; // its SIGTERM handler is installed
    const pid = sup.pid as number;
    await sup.stop();
    assert.equal(sup.lastExit?.signal, 'SIGKILL');
    assert.match(sup.lastExit?.stderrTail ?? '', /got SIGTERM, ignoring it/, 'SIGTERM came first');
    assert.ok(!isRunning(pid));
    assert.equal(sup.state, 'stopped');
  });

  test('stop ends the whole process group, grandchildren included', async () => {
    const grand = lineWaiter((line) => /^grandchild (\d+)$/.exec(line)?.[1]);
    const { sup } = supervise('withGrandchild', [], { stopTimeoutMs: 2000, onStdoutLine: grand.onStdoutLine });
    await sup.start();
    const grandchildPid = Number(await grand.found);
    const pid = sup.pid as number;
    assert.ok(isRunning(grandchildPid));
    assert.deepEqual(liveGroupMembers(pid).sort(), [pid, grandchildPid].sort(), 'the grandchild is in the child\'s group');
    await sup.stop();
    await waitUntil(() => !isRunning(grandchildPid), 5000, 'the grandchild (which ignores SIGTERM) is gone');
    assert.deepEqual(liveGroupMembers(pid), []);
  });

  test('a child that dies on its own takes its process group with it', async () => {
    const grand = lineWaiter((line) => /^grandchild (\d+)$/.exec(line)?.[1]);
    const { sup } = supervise('withGrandchild', ['crash'], { onStdoutLine: grand.onStdoutLine });
    await sup.start();
    const pid = sup.pid as number;
    const exited = sup.exited;
    const grandchildPid = Number(await grand.found);
    const exit = await exited;
    assert.equal(exit?.code, 5);
    await waitUntil(() => !isRunning(grandchildPid), 5000, 'the orphaned grandchild is gone');
    assert.deepEqual(liveGroupMembers(pid), []);
    assert.equal(sup.state, 'failed', 'no restart policy: a non-zero exit is a failure');
  });

  test('lastExit keeps only the last stderrTailBytes of stderr', async () => {
    const { sup, entries } = supervise('noisy', [], { stderrTailBytes: 1024 });
    await sup.start().catch(() => undefined); // it may exit before or after its spawn counts as healthy
    await waitUntil(() => sup.state === 'failed', 10_000, 'the noisy child failed');
    const exit = sup.lastExit;
    assert.equal(exit?.code, 7);
    assert.ok(Buffer.byteLength(exit?.stderrTail ?? '') <= 1024);
    assert.ok(exit?.stderrTail.endsWith('LAST LINE before exit\n'), 'the tail ends with the last line');
    assert.ok(!exit?.stderrTail.includes('noise line 0\n'), 'the head was dropped');
    const logged = entries.find((e) => typeof e.message === 'string' && e.message.startsWith('supervised process exited with code 7'));
    assert.equal(logged?.stderrTail, exit?.stderrTail, 'the exit log carries the tail');
  });

  test('a one-shot child that exits 0 is logged at info; under a restart policy the same exit is a warning', async () => {
    const oneShot = supervise('clean', []);
    await oneShot.sup.start().catch(() => undefined);
    await waitUntil(() => oneShot.sup.state === 'stopped', 10_000, 'the one-shot child stopped');
    const exitLines = (entries: Array<Record<string, unknown>>) => entries.filter((e) => typeof e.message === 'string' && e.message.startsWith('supervised process'));
    const logged = exitLines(oneShot.entries).filter((e) => e.code === 0);
    assert.equal(logged.length, 1, JSON.stringify(oneShot.entries));
    assert.equal(logged[0]?.level, 'info');
    assert.deepEqual(oneShot.entries.filter((e) => e.level === 'warn'), [], 'no warning for a finished one-shot run');

    const kept = supervise('clean', [], { restart: { initialDelayMs: 60_000, maxDelayMs: 60_000, factor: 2 } });
    await kept.sup.start().catch(() => undefined);
    await waitUntil(() => kept.sup.state === 'restarting', 10_000, 'the kept child is to be restarted');
    await kept.sup.stop();
    assert.equal(exitLines(kept.entries).find((e) => e.code === 0 && e.reason === undefined)?.level, 'warn', JSON.stringify(kept.entries));
  });

  test('a child not healthy within startTimeoutMs is killed and start rejects', async () => {
    const port = await pickFreePort('127.0.0.1'); // nothing listens there
    const ready = lineWaiter((line) => (line === 'ready' ? true : undefined));
    const { sup } = supervise('sleeper', [], { health: httpHealth(port), startTimeoutMs: 500, onStdoutLine: ready.onStdoutLine });
    let pid: number | undefined;
    sup.on('spawn', (p) => (pid = p));
    await assert.rejects(sup.start(), (err: HearthError) => err instanceof HearthError && err.kind === 'unavailable' && /not become healthy/.test(err.message));
    assert.equal(sup.state, 'failed');
    assert.equal(sup.lastExit?.reason, 'start-timeout');
    assert.ok(pid !== undefined && !isRunning(pid));
  });

  test('with a restart policy a start timeout counts as a failure and is retried', async () => {
    const port = await pickFreePort('127.0.0.1');
    const { sup } = supervise('sleeper', [], { health: httpHealth(port), startTimeoutMs: 300, restart: { initialDelayMs: 20, maxDelayMs: 40, factor: 2, maxFailures: 3 } });
    const delays: number[] = [];
    sup.on('restart', ({ delayMs }) => delays.push(delayMs));
    await assert.rejects(sup.start());
    await waitUntil(() => sup.state === 'failed', 10_000, 'the supervisor gave up after maxFailures');
    assert.deepEqual(delays, [20, 40]);
    assert.equal(sup.lastExit?.reason, 'start-timeout');
  });

  test('an unhealthy child is reported, recovers, and is restarted once it stalls', async () => {
    let healthy = true;
    const { sup, states } = supervise('sleeper', [], {
      health: async () => healthy,
      stallTimeoutMs: 1000,
      restart: { initialDelayMs: 20, maxDelayMs: 20, factor: 1 },
    });
    await sup.start();
    const firstPid = sup.pid as number;
    healthy = false;
    await waitUntil(() => sup.state === 'unhealthy', 5000, 'the state is unhealthy');
    healthy = true;
    await sup.waitUntilRunning(5000);
    assert.equal(sup.pid, firstPid, 'a short failure does not restart the child');

    healthy = false;
    await waitUntil(() => sup.restarts === 1, 10_000, 'the stalled child was restarted');
    assert.equal(sup.lastExit?.reason, 'stalled');
    assert.ok(!isRunning(firstPid));
    healthy = true;
    await sup.waitUntilRunning(10_000);
    assert.notEqual(sup.pid, firstPid);
    assert.deepEqual(states.slice(0, 4), ['starting', 'running', 'unhealthy', 'running']);
    await sup.stop();
  });

  test('touch() keeps a child without health checks from stalling', async () => {
    const { sup } = supervise('sleeper', [], { stallTimeoutMs: 500, restart: { initialDelayMs: 20, maxDelayMs: 20, factor: 1 } });
    await sup.start();
    const pid = sup.pid;
    const keepAlive = setInterval(() => sup.touch(), 20);
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(keepAlive);
    assert.equal(sup.pid, pid);
    assert.equal(sup.restarts, 0);
    await waitUntil(() => sup.restarts === 1, 10_000, 'the silent child was restarted');
    assert.equal(sup.lastExit?.reason, 'stalled');
    await sup.stop();
  });

  test('no restart after stop, whether stopped while running or while waiting to restart', async () => {
    const port = await pickFreePort('127.0.0.1');
    const { sup } = supervise('server', [String(port)], { health: httpHealth(port), restart: { initialDelayMs: 50, maxDelayMs: 50, factor: 1 } });
    let spawns = 0;
    sup.on('spawn', () => spawns++);
    await sup.start();
    await sup.stop();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(spawns, 1);
    assert.equal(sup.state, 'stopped');

    const crashPort = await pickFreePort('127.0.0.1');
    const crashing = supervise('server', [String(crashPort), '200'], { health: httpHealth(crashPort), restart: { initialDelayMs: 400, maxDelayMs: 400, factor: 1 } });
    let crashSpawns = 0;
    crashing.sup.on('spawn', () => crashSpawns++);
    await crashing.sup.start().catch(() => undefined);
    await waitUntil(() => crashing.sup.state === 'restarting', 5000, 'a restart is pending');
    await crashing.sup.stop();
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(crashSpawns, 1, 'the pending restart was cancelled');
    assert.equal(crashing.sup.state, 'stopped');
  });

  test('a spawn failure rejects start and is kept in lastExit', async () => {
    const { sup: bad } = supervise('sleeper', [], { command: join(dir, 'no-such-binary') });
    await assert.rejects(bad.start(), (err: HearthError) => err.kind === 'unavailable' && /could not be spawned/.test(err.message));
    assert.equal(bad.lastExit?.reason, 'spawn-error');
    assert.equal(bad.state, 'failed');
  });

  test('children are spawned detached, in their own process group, through the injected spawn', async () => {
    const seen: SpawnOptions[] = [];
    const { sup } = supervise('sleeper', [], {
      spawn: (command, args, options) => {
        seen.push(options);
        return spawn(command, args, options);
      },
    });
    await sup.start();
    const pid = sup.pid as number;
    assert.equal(seen[0]?.detached, true);
    assert.deepEqual(liveGroupMembers(pid), [pid], 'the child leads its own group');
    await sup.stop();
  });

  test('start while running is refused', async () => {
    const { sup } = supervise('sleeper', []);
    await sup.start();
    await assert.rejects(sup.start(), (err: HearthError) => err.kind === 'conflict');
    await sup.stop();
  });

  test('the daemon exiting (here by an uncaught exception) kills its supervised groups', async () => {
    const supervisorUrl = pathToFileURL(join(import.meta.dirname, '../../src/supervisor/supervisor.js')).href;
    const logUrl = pathToFileURL(join(import.meta.dirname, '../../src/log.js')).href;
    const daemon = join(dir, 'daemon.mjs');
    await writeFile(
      daemon,
      `
      import { Supervisor } from ${JSON.stringify(supervisorUrl)};
      import { createLogger } from ${JSON.stringify(logUrl)};
      const sup = new Supervisor({
        name: 'orphan-check', command: process.execPath, args: [${JSON.stringify(path('withGrandchild'))}],
        log: createLogger('test', 'error'), healthIntervalMs: 1000, startTimeoutMs: 10000, restart: false,
        stopTimeoutMs: 1000, stderrTailBytes: 1024,
        onStdoutLine: (line) => {
          process.stdout.write('child ' + sup.pid + '\\n' + line + '\\n');
          setTimeout(() => { throw new Error('a bug in the daemon'); }, 10);
        },
      });
      await sup.start();
      `,
    );
    const proc = spawn(process.execPath, [daemon], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pids: number[] = [];
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /^(?:child|grandchild) (\d+)$/.exec(line);
      if (m) pids.push(Number(m[1]));
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    assert.notEqual(code, 0);
    assert.match(stderr, /a bug in the daemon/);
    assert.equal(pids.length, 2, 'the daemon reported its child and grandchild');
    await waitUntil(() => pids.every((p) => !isRunning(p)), 5000, 'the child and grandchild are gone');
  });
});

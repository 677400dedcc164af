// The `hearth engine` command line both ways: what the daemon writes is what the engine reads,
// every setting exactly, and the flags that match config keys read them as the config does.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { engineArgv, engineHelp, engineOwnDefaults, parseEngineArgs, type EngineSettings } from '../../src/engine/engine-args.js';
import { HearthError } from '../../src/errors.js';
import { defaultConfig } from '../../src/config/load.js';
import { configSchema, gpuModes, logLevels } from '../../src/config/schema.js';

const settings: EngineSettings = {
  modelsDir: '/var/lib/hearth/models',
  listen: { host: '127.0.0.1', port: 11500 },
  parallel: 3,
  maxQueue: 17,
  numCtx: 4096,
  keepAliveMs: 400,
  maxLoaded: 4,
  threads: 6,
  gpu: 'vulkan',
  maxBodyMb: 8,
  maxBlobGb: 12,
  drainSeconds: 9,
  logLevel: 'warn',
  parentPid: 4242,
};

function roundTrip(s: EngineSettings): EngineSettings {
  const parsed = parseEngineArgs(engineArgv(s));
  assert.notEqual(parsed, 'help');
  return parsed as EngineSettings;
}

describe('engineArgv → parseEngineArgs', () => {
  test('every setting comes back exactly', () => {
    assert.deepEqual(roundTrip(settings), settings);
  });

  test('keep-alive: sub-second, zero, whole seconds, minutes, a fraction of a second, forever', () => {
    for (const keepAliveMs of [400, 1, 0, 1500, 60_000, 300_000, 5_400_000, 2.5, Infinity]) {
      assert.equal(roundTrip({ ...settings, keepAliveMs }).keepAliveMs, keepAliveMs, String(keepAliveMs));
    }
    assert.ok(engineArgv({ ...settings, keepAliveMs: 400 }).includes('--keep-alive=400ms'), 'not rounded to seconds');
    assert.ok(engineArgv({ ...settings, keepAliveMs: Infinity }).includes('--keep-alive=-1'), 'joined to its flag, not read as a flag');
  });

  test('an IPv6 listen address, threads 0 (the cgroup decides), every GPU mode and log level, no parent', () => {
    const { parentPid: _none, ...alone } = settings;
    for (const gpu of gpuModes) {
      for (const logLevel of logLevels) {
        const s: EngineSettings = { ...alone, listen: { host: '::1', port: 0 }, threads: 0, gpu, logLevel };
        assert.deepEqual(roundTrip(s), s, `${gpu} ${logLevel}`);
      }
    }
    assert.ok(!engineArgv(alone).some((arg) => arg.startsWith('--parent-pid')));
  });
});

describe('parseEngineArgs', () => {
  test('unset flags take the config schema defaults, or the engine own ones', () => {
    const defaults = defaultConfig().engine;
    const parsed = parseEngineArgs(['--models', '/m']);
    assert.deepEqual(parsed, {
      modelsDir: '/m',
      listen: defaults.listen,
      parallel: defaults.parallel,
      maxQueue: defaults.maxQueue,
      numCtx: defaults.numCtx,
      keepAliveMs: defaults.keepAlive,
      threads: defaults.threads,
      gpu: defaults.gpu,
      logLevel: defaultConfig().log.level,
      ...engineOwnDefaults,
    });
  });

  test("--keep-alive takes Ollama's syntax: a bare number is seconds, a negative one forever", () => {
    const keepAlive = (value: string) => (parseEngineArgs(['--models', '/m', '--keep-alive', value]) as EngineSettings).keepAliveMs;
    assert.equal(keepAlive('30'), 30_000);
    assert.equal(keepAlive('250ms'), 250);
    assert.equal(keepAlive('0'), 0);
    assert.equal(keepAlive('-1'), Infinity, 'as the help writes it, a separate argument');
    assert.equal(keepAlive('-5m'), Infinity);
    assert.equal((parseEngineArgs(['--models', '/m', '--keep-alive=-1']) as EngineSettings).keepAliveMs, Infinity);
    assert.equal(keepAlive('1h30m'), 5_400_000);
  });

  test('--watch-parent watches the parent of now; --help asks for the help', () => {
    assert.equal((parseEngineArgs(['--models', '/m', '--watch-parent']) as EngineSettings).parentPid, process.ppid);
    assert.equal(parseEngineArgs(['--help']), 'help');
    assert.equal(parseEngineArgs(['-h', '--parallel', 'x']), 'help');
  });

  test('a bad flag is an invalid_argument error that names it', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--parallel', 'zero'], /^--parallel must be an integer from 1 to 256 \(got "zero"\)$/],
      [['--parallel', '0'], /^--parallel must be an integer/],
      [['--max-queue', '0'], /^--max-queue must be an integer/],
      [['--num-ctx', '100'], /^--num-ctx must be an integer from 256/],
      [['--threads', '1.5'], /^--threads must be an integer from 0/],
      [['--listen', '11500'], /^--listen must be HOST:PORT such as 127\.0\.0\.1:8080/],
      [['--listen', 'localhost:70000'], /^--listen must be HOST:PORT/],
      [['--listen', '::1:8080'], /^--listen must be HOST:PORT .*\[::1\]:8080 for IPv6/],
      [['--gpu', 'metal'], /^--gpu must be one of auto, off, cuda, vulkan \(got "metal"\)$/],
      [['--log-level', 'loud'], /^--log-level must be one of error, warn, info, debug/],
      [['--keep-alive', 'soon'], /--keep-alive: invalid duration "soon"/],
      [['--max-loaded', '0'], /^--max-loaded must be a positive integer \(got "0"\)$/],
      [['--drain-seconds', 'x'], /^--drain-seconds must be a positive integer/],
      [['--parent-pid', '12x'], /^--parent-pid must be a process id/],
      [['--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    for (const [flags, message] of cases) {
      assert.throws(() => parseEngineArgs(['--models', '/m', ...flags]), (err: unknown) => err instanceof HearthError && err.code === 'invalid_argument' && message.test(err.message), flags.join(' '));
    }
    assert.throws(() => parseEngineArgs([]), (err: unknown) => err instanceof HearthError && err.code === 'invalid_argument' && /^--models DIR is required/.test(err.message));
  });

  test('the help names every flag with the default it has', () => {
    for (const flag of ['--models', '--listen', '--parallel', '--max-queue', '--num-ctx', '--keep-alive', '--max-loaded', '--threads', '--gpu', '--max-body-mb', '--max-blob-gb', '--drain-seconds', '--log-level', '--watch-parent', '--parent-pid']) {
      assert.ok(engineHelp.includes(`  ${flag} `) || engineHelp.includes(`  ${flag}\n`), flag);
    }
    const line = (flag: string) => engineHelp.split('\n').find((l) => l.startsWith(`  ${flag} `)) ?? '';
    const schemaDefault = (key: string) => String(configSchema.find((f) => f.key === key)?.default);
    assert.match(line('--listen'), new RegExp(`\\(${schemaDefault('engine.listen').replace(/\./g, '\\.')}\\)$`));
    assert.match(line('--keep-alive'), new RegExp(`\\(${schemaDefault('engine.keep_alive')}\\)$`));
    assert.match(line('--parallel'), new RegExp(`\\(${schemaDefault('engine.parallel')}\\)$`));
    assert.match(line('--gpu'), /auto \| off \| cuda \| vulkan +\(auto\)$/);
  });
});

import { resolve } from 'node:path';
import { createLogger } from '../log.js';
import { startEngine } from '../engine/server.js';
import { detectCpuThreads } from '../engine/runtime/threads.js';
import { parseKeepAlive } from '../engine/runtime/keep-alive.js';
import { parseCommandArgs, parseListen } from './args.js';
import { CliError } from './cli-error.js';
import { parentToWatch, watchParent } from '../supervisor/watch-parent.js';

const help = `Usage: hearth engine --models DIR [--listen 127.0.0.1:11435] [options]

Runs the bundled inference engine: an Ollama-compatible HTTP server on llama.cpp.

Options:
  --models DIR         model store (blobs and manifests); created if missing   (required)
  --listen HOST:PORT   address to listen on                                    (127.0.0.1:11435)
  --parallel N         sequences served at once per model                      (2)
  --max-queue N        requests waiting per model before 503                   (64)
  --num-ctx N          default context size per sequence, in tokens            (2048)
  --keep-alive DUR     how long an idle model stays loaded ("5m", "0", "-1")   (5m)
  --max-loaded N       models kept in memory at once                           (2)
  --threads N          CPU threads (default: CPUs allowed by the cgroup)
  --gpu MODE           auto | off | cuda | vulkan                              (auto)
  --max-body-mb N      largest JSON body                                       (32)
  --max-blob-gb N      largest uploaded blob                                   (256)
  --drain-seconds N    on SIGTERM, how long requests in flight may finish      (5)
  --log-level LEVEL    error | warn | info | debug                             (info)
  --watch-parent       stop when the process that started this one dies
  --parent-pid PID     stop when this process (the starter, by its pid) dies (used by hearth serve)
`;

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive integer (got "${value}")`);
  return n;
}

export async function runEngineCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    models: { type: 'string' },
    listen: { type: 'string' },
    parallel: { type: 'string' },
    'max-queue': { type: 'string' },
    'num-ctx': { type: 'string' },
    'keep-alive': { type: 'string' },
    'max-loaded': { type: 'string' },
    threads: { type: 'string' },
    gpu: { type: 'string' },
    'max-body-mb': { type: 'string' },
    'max-blob-gb': { type: 'string' },
    'drain-seconds': { type: 'string' },
    'watch-parent': { type: 'boolean' },
    'parent-pid': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  // Watched from the first moment: a parent that dies while the engine is still loading (a
  // daemon killed during its start) must not leave it behind, holding its port. Until it serves
  // there is nothing to drain.
  let parentGone: () => void = () => process.exit(1);
  let parent: number | undefined;
  try {
    parent = parentToWatch(values);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (parent !== undefined) {
    watchParent(parent, () => {
      process.stderr.write('hearth engine: the process that started it is gone: stopping\n');
      parentGone();
    });
  }
  if (!values.models) throw new CliError('--models DIR is required\n\n' + help);
  const { host, port } = parseListen(values.listen ?? '127.0.0.1:11435');
  const gpu = values.gpu ?? 'auto';
  if (!['auto', 'off', 'cuda', 'vulkan'].includes(gpu)) throw new CliError(`--gpu must be auto, off, cuda or vulkan (got "${gpu}")`);
  let keepAliveMs: number;
  try {
    keepAliveMs = parseKeepAlive(values['keep-alive'] ?? '5m', '--keep-alive');
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  const level = values['log-level'] ?? 'info';
  if (!['error', 'warn', 'info', 'debug'].includes(level)) throw new CliError(`--log-level must be error, warn, info or debug (got "${level}")`);
  const log = createLogger('engine', level);
  const engine = await startEngine({
    modelsDir: resolve(values.models),
    drainMs: positiveInt(values['drain-seconds'], '--drain-seconds', 5) * 1000,
    host,
    port,
    log,
    pool: {
      parallel: positiveInt(values.parallel, '--parallel', 2),
      maxQueue: positiveInt(values['max-queue'], '--max-queue', 64),
      numCtx: positiveInt(values['num-ctx'], '--num-ctx', 2048),
      keepAliveMs,
      maxLoaded: positiveInt(values['max-loaded'], '--max-loaded', 2),
      threads: positiveInt(values.threads, '--threads', detectCpuThreads()),
      gpu: gpu as 'auto' | 'off' | 'cuda' | 'vulkan',
    },
    limits: {
      jsonBodyBytes: positiveInt(values['max-body-mb'], '--max-body-mb', 32) * 1024 * 1024,
      blobBytes: positiveInt(values['max-blob-gb'], '--max-blob-gb', 256) * 1024 ** 3,
    },
  });
  log.info('engine listening', { url: engine.url, models: resolve(values.models) });
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      log.info('engine stopping', { signal });
      engine.close().then(done, (err: unknown) => {
        log.error('engine stop failed', { err });
        done();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // When the parent dies this process is re-parented (to init or a subreaper): drain and stop.
    parentGone = () => stop('parent exited');
  });
  return 0;
}

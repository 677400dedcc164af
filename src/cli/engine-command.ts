import { createLogger } from '../log.js';
import { startEngine } from '../engine/server.js';
import { detectCpuThreads } from '../engine/runtime/threads.js';
import { watchParent } from '../supervisor/watch-parent.js';
import { engineHelp, parseEngineArgs } from '../engine/engine-args.js';
import { HearthError } from '../errors.js';
import { CliError } from './cli-error.js';
import { takeEngineSecret } from '../engine/engine-secret.js';

export async function runEngineCommand(argv: string[]): Promise<number> {
  let settings: ReturnType<typeof parseEngineArgs>;
  try {
    settings = parseEngineArgs(argv);
  } catch (err) {
    if (err instanceof HearthError && err.kind === 'invalid_request') throw new CliError(err.message);
    throw err;
  }
  if (settings === 'help') {
    process.stdout.write(engineHelp);
    return 0;
  }
  let secret: string | undefined;
  try {
    secret = takeEngineSecret(process.env);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  // Watched from the first moment: a parent that dies while the engine is still loading (a
  // daemon killed during its start) must not leave it behind, holding its port. Until it serves
  // there is nothing to drain.
  let parentGone: () => void = () => process.exit(1);
  if (settings.parentPid !== undefined) {
    watchParent(settings.parentPid, () => {
      process.stderr.write('hearth engine: the process that started it is gone: stopping\n');
      parentGone();
    });
  }
  const log = createLogger('engine', settings.logLevel);
  const engine = await startEngine({
    modelsDir: settings.modelsDir,
    drainMs: settings.drainSeconds * 1000,
    host: settings.listen.host,
    port: settings.listen.port,
    log,
    ...(secret === undefined ? {} : { secret }),
    pool: {
      parallel: settings.parallel,
      maxQueue: settings.maxQueue,
      numCtx: settings.numCtx,
      keepAliveMs: settings.keepAliveMs,
      maxLoaded: settings.maxLoaded,
      threads: settings.threads === 0 ? detectCpuThreads() : settings.threads,
      gpu: settings.gpu,
    },
    limits: {
      jsonBodyBytes: settings.maxBodyMb * 1024 * 1024,
      blobBytes: settings.maxBlobGb * 1024 ** 3,
    },
  });
  log.info('engine listening', { url: engine.url, models: settings.modelsDir, secret_required: secret !== undefined });
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

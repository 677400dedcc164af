import { formatHostPort, type HostPort } from '../config/host-port.js';
import { redactedConfig } from '../config/load.js';
import { schemaField } from '../config/schema.js';
import { loadCliConfig } from './cli-config.js';
import { createLogger, describeError } from '../log.js';
import { startDaemon, type RunningDaemon } from '../daemon/daemon.js';
import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';
import { HearthError } from '../errors.js';

const help = `Usage: hearth serve [--config FILE] [--data-dir DIR] [--listen HOST:PORT]

Runs the Hearth daemon: the /api/v1 gateway (keys, plans, credits, rate limits), the admin API,
and the supervised model backend (a running Ollama, \`ollama serve\`, or the bundled engine).
Defaults: ${schemaField('listen').default}, data in ${schemaField('data_dir').default}. Every setting is in config.example.yaml; the
environment overrides are listed in the README.
`;

/** The operator-facing reason a start failed, or undefined for an unexpected error (a bug: keep its stack). */
function startFailure(err: unknown, config: { listen: HostPort; dataDir: string }): string | undefined {
  if (err instanceof HearthError) return err.message;
  if (!(err instanceof Error)) return undefined;
  const { code, syscall, path } = err as NodeJS.ErrnoException;
  if (syscall === 'listen') {
    const at = formatHostPort(config.listen);
    const why: Record<string, string> = {
      EADDRINUSE: 'the address is already in use; stop what holds it, or',
      EADDRNOTAVAIL: 'no interface of this machine has that address;',
      EACCES: 'permission denied (ports below 1024 need privileges);',
    };
    return `cannot listen on ${at}: ${why[code ?? ''] ?? `${err.message};`} set listen (--listen HOST:PORT)`;
  }
  // The data dir: not writable, read-only, full. Node's message names the call and the path.
  if (path !== undefined && code !== undefined) return `${err.message} (the data dir ${config.dataDir} must be writable by the user hearth runs as)`;
  if (err.name === 'SqliteError') return `the database in ${config.dataDir} cannot be used: ${err.message} (${code ?? 'sqlite'})`;
  return undefined;
}

export async function runServeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: 'string' }, 'data-dir': { type: 'string' }, listen: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  const config = loadCliConfig({ file: values.config, overrides: { data_dir: values['data-dir'], listen: values.listen } });
  const log = createLogger('hearth', config.log.level);
  log.info('configuration', { config: redactedConfig(config) });
  // Signals are handled from the start: Node gives an unhandled SIGTERM no 'exit' event, so one
  // arriving while the backend is still coming up (up to backend.start_timeout) would leave a
  // started `ollama serve` behind. Until the daemon is up there is nothing to drain, and a second
  // signal during the drain means now: exiting runs the hook that stops every supervised group.
  let onStop: ((signal: NodeJS.Signals) => void) | undefined;
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (onStop === undefined || draining) {
      log.info(draining ? 'stopped at once by a second signal' : 'stopped while starting', { signal });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    draining = true;
    onStop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon(config, log);
  } catch (err) {
    // Logged for the journal, and said in one line on stderr: an operator's mistake (the port
    // taken, the data dir in use) is not a crash, so it gets no stack trace.
    log.error('hearth did not start', { err: describeError(err) });
    const reason = startFailure(err, config);
    if (reason !== undefined) throw new CliError(reason, 1);
    throw err;
  }
  await new Promise<void>((done) => {
    onStop = (signal) => {
      log.info('shutting down', { signal });
      daemon.close().then(done, (err: unknown) => {
        log.error('shutdown failed', { err: describeError(err) });
        done();
      });
    };
  });
  log.info('stopped');
  return 0;
}

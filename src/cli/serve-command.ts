import { loadConfig, redactedConfig } from '../config/load.js';
import { ConfigError } from '../config/config-error.js';
import { createLogger, describeError } from '../log.js';
import { startDaemon } from '../daemon/daemon.js';
import { parseCommandArgs } from './args.js';
import { CliError } from './cli-error.js';

const help = `Usage: hearth serve [--config FILE] [--data-dir DIR] [--listen HOST:PORT]

Runs the Hearth daemon: the /api/v1 gateway (keys, plans, credits, rate limits), the admin API,
and the supervised model backend (a running Ollama, \`ollama serve\`, or the bundled engine).
Defaults: 127.0.0.1:8080, data in ./data. Every setting is in config.example.yaml; the
environment overrides are listed in the README.
`;

export async function runServeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: 'string' }, 'data-dir': { type: 'string' }, listen: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(help);
    return 0;
  }
  let config;
  try {
    config = loadConfig({ file: values.config, overrides: { data_dir: values['data-dir'], listen: values.listen } });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
  const log = createLogger('hearth', config.log.level);
  log.info('configuration', { config: redactedConfig(config) });
  const daemon = await startDaemon(config, log);
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      log.info('shutting down', { signal });
      daemon.close().then(done, (err: unknown) => {
        log.error('shutdown failed', { err: describeError(err) });
        done();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.info('stopped');
  return 0;
}

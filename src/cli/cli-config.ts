import { ConfigError } from '../config/config-error.js';
import { loadConfig } from '../config/load.js';
import type { HearthConfig } from '../config/schema.js';
import { CliError } from './cli-error.js';

/** The config for a command: a mistake in it (a key, a value, an unreadable file) is one line and exit 2, never a stack. */
export function loadCliConfig(options: Parameters<typeof loadConfig>[0]): HearthConfig {
  try {
    return loadConfig(options);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}

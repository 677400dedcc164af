/**
 * An invalid configuration: every problem found, one per line, each naming its key and where
 * the value came from. The CLI prints the message and exits 2. Startup-only, so it stays apart
 * from HearthError, whose kinds map to HTTP statuses.
 */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

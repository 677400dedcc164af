/** A failure the CLI reports as one line, without a stack: bad arguments, unreachable server. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'CliError';
  }
}

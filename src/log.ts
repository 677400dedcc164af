import winston from 'winston';

export type Logger = winston.Logger;

/**
 * JSON lines on stdout, one object per event: journald and `docker logs` keep them, and they
 * parse without a custom format. Errors carry their stack in the log, never in a response.
 */
export function createLogger(service: string, level = 'info'): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/** A plain object for logging an error: JSON.stringify drops an Error's non-enumerable fields. */
export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { value: String(err) };
  const own = Object.fromEntries(Object.entries(err));
  return { ...own, name: err.name, message: err.message, stack: err.stack, ...(err.cause === undefined ? {} : { cause: describeError(err.cause) }) };
}

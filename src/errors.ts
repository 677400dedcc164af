// The one error class of Hearth. Code throws HearthError with a kind; each HTTP surface's
// error middleware maps the kind to a status and its own body shape (the engine answers
// Ollama's {"error": "..."}, the gateway {"error": {message, type, code}}). Nothing maps by
// message text.

export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'request_timeout'
  | 'headers_too_large'
  | 'rate_limited'
  | 'insufficient_quota'
  | 'unavailable'
  | 'internal'
  | 'client_closed';

export const statusOfKind: Readonly<Record<ErrorKind, number>> = Object.freeze({
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  request_timeout: 408,
  headers_too_large: 431,
  rate_limited: 429,
  insufficient_quota: 429,
  unavailable: 503,
  internal: 500,
  // nginx's "client closed request": never sent (nobody is left to read it), but it is the
  // status the error handlers note for a request whose client hung up before its answer.
  client_closed: 499,
});

export interface HearthErrorOptions {
  /** Machine-readable code for clients, e.g. "model_not_found". */
  code?: string;
  /** Seconds a client should wait before retrying (429, 503). */
  retryAfterS?: number;
  /** The request field at fault ("messages", "max_tokens"), where one is: OpenAI's `param`. */
  param?: string;
  cause?: unknown;
}

export class HearthError extends Error {
  readonly code: string | undefined;
  readonly retryAfterS: number | undefined;
  readonly param: string | undefined;

  constructor(readonly kind: ErrorKind, message: string, options: HearthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HearthError';
    this.code = options.code;
    this.retryAfterS = options.retryAfterS;
    this.param = options.param;
  }

  get status(): number {
    return statusOfKind[this.kind];
  }
}

export const invalidRequest = (message: string, code = 'invalid_request') =>
  new HearthError('invalid_request', message, { code });
export const notFound = (message: string, code = 'not_found') => new HearthError('not_found', message, { code });
export const conflict = (message: string, code = 'conflict') => new HearthError('conflict', message, { code });
export const unavailable = (message: string, retryAfterS = 1, code = 'unavailable') =>
  new HearthError('unavailable', message, { code, retryAfterS });

/** The client hung up before its request was answered: nothing to send, nothing to log above info. */
export const clientClosed = (message = 'the client closed the connection before its response') =>
  new HearthError('client_closed', message, { code: 'client_closed' });

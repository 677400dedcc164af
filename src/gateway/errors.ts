import type { ErrorRequestHandler, Request } from 'express';
import type { ErrorKind, HearthError } from '../errors.js';
import { surfaceOfPath, type ErrorShape } from '../contract/operations.js';
import { toHearthError } from '../http/error-mapping.js';

/** The `type` of the gateway's error object for each kind (OpenAI's vocabulary where it has one). */
const typeOfKind: Readonly<Record<ErrorKind, string>> = Object.freeze({
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  method_not_allowed: 'invalid_request_error',
  conflict: 'conflict_error',
  payload_too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  request_timeout: 'invalid_request_error',
  headers_too_large: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  insufficient_quota: 'insufficient_quota',
  unavailable: 'service_unavailable_error',
  internal: 'api_error',
  client_closed: 'invalid_request_error',
});

/** `{"error": {message, type, code}}`, the error shape of Hearth's own surfaces. */
export function errorBody(e: HearthError) {
  return { error: { message: e.message, type: typeOfKind[e.kind], code: e.code ?? e.kind } };
}

/** OpenAI's `type` for each kind: its SDKs read the status, some clients the type as well. */
const openAiTypeOfKind: Readonly<Record<ErrorKind, string>> = Object.freeze({
  ...typeOfKind,
  not_found: 'invalid_request_error',
  conflict: 'invalid_request_error',
  rate_limited: 'requests',
  unavailable: 'server_error',
  internal: 'server_error',
});

/** Each surface's error body, as its clients parse it. */
export const errorBodyOf: Readonly<Record<ErrorShape, (e: HearthError) => unknown>> = Object.freeze({
  hearth: errorBody,
  // Spent credits are OpenAI's `insufficient_quota` (its code and type), whatever Hearth's own code says.
  openai: (e: HearthError) => ({ error: { message: e.message, type: openAiTypeOfKind[e.kind], param: e.param ?? null, code: e.kind === 'insufficient_quota' ? 'insufficient_quota' : (e.code ?? e.kind) } }),
  ollama: (e: HearthError) => ({ error: e.message }),
});

/** How an error ends a response whose body is already under way, in each surface's framing. */
export const streamErrorOf: Readonly<Record<ErrorShape, (e: HearthError) => string>> = Object.freeze({
  hearth: (e: HearthError) => `event: error\ndata: ${JSON.stringify(errorBody(e))}\n\n`,
  // OpenAI's libraries read an SSE `event: error` as an empty message: the error is a data event.
  openai: (e: HearthError) => `data: ${JSON.stringify(errorBodyOf.openai(e))}\n\n`,
  // Ollama streams NDJSON: the last line carries the error.
  ollama: (e: HearthError) => `${JSON.stringify(errorBodyOf.ollama(e))}\n`,
});

/** The error shape of the surface `path` lies under; Hearth's own elsewhere. */
export const errorShapeOf = (path: string): ErrorShape => surfaceOfPath(path)?.errorShape ?? 'hearth';

/**
 * The gateway's one error middleware: every error becomes its surface's error body with its
 * status (and Retry-After where the kind has one); stacks go to the log only.
 */
export function gatewayErrorHandler(log: (err: unknown, req: Request, e: HearthError) => void): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toHearthError(err);
    log(err, req, e);
    if (e.kind === 'client_closed') {
      // Nobody is left to read an answer (and the contract has no 499 to check one against):
      // the access line notes the hang-up, at info.
      res.destroy();
      return;
    }
    const shape = errorShapeOf(req.originalUrl.split('?', 1)[0] ?? '');
    if (res.headersSent) {
      // A stream already under way: the error travels in the stream's own framing, then it ends.
      if (!res.writableEnded && !res.destroyed) res.end(streamErrorOf[shape](e));
      return;
    }
    if (e.retryAfterS !== undefined) res.setHeader('Retry-After', String(e.retryAfterS));
    // OpenAI's SDKs retry every 429 unless told not to: spent credits come back only with the
    // next period, so a retry could only wait and fail again.
    if (shape === 'openai' && e.kind === 'insufficient_quota') res.setHeader('x-should-retry', 'false');
    res.status(e.status).json(errorBodyOf[shape](e));
  };
}

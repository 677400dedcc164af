import type { ErrorRequestHandler, Request } from 'express';
import type { ErrorKind, HearthError } from '../errors.js';
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

/** `{"error": {message, type, code}}`, the one error shape of the gateway. */
export function errorBody(e: HearthError) {
  return { error: { message: e.message, type: typeOfKind[e.kind], code: e.code ?? e.kind } };
}

/**
 * The gateway's one error middleware: every error becomes the error object with its status
 * (and Retry-After where the kind has one); stacks go to the log only.
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
    if (res.headersSent) {
      // A stream already under way: the error travels as an SSE event (see sse.ts).
      if (!res.writableEnded && !res.destroyed) res.end(`event: error\ndata: ${JSON.stringify(errorBody(e))}\n\n`);
      return;
    }
    if (e.retryAfterS !== undefined) res.setHeader('Retry-After', String(e.retryAfterS));
    res.status(e.status).json(errorBody(e));
  };
}

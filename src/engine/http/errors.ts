import type { ErrorRequestHandler, Request } from 'express';
import { HearthError } from '../../errors.js';

/** express-openapi-validator's errors carry a status and a list of {path, message}. */
interface ValidatorError {
  status: number;
  errors: Array<{ path?: string; message?: string }>;
}

function isValidatorError(err: unknown): err is ValidatorError {
  return typeof err === 'object' && err !== null && Array.isArray((err as ValidatorError).errors) && typeof (err as ValidatorError).status === 'number';
}

/** body-parser marks its failures with a `type` such as "entity.parse.failed". */
function bodyParserType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type.startsWith('entity.') ? type : undefined;
}

/** Turns anything thrown into a HearthError; internal details stay in the log. */
export function toHearthError(err: unknown): HearthError {
  if (err instanceof HearthError) return err;
  const parserType = bodyParserType(err);
  if (parserType === 'entity.parse.failed') return new HearthError('invalid_request', 'invalid JSON in request body', { code: 'invalid_json' });
  if (parserType === 'entity.too.large') return new HearthError('payload_too_large', 'request body too large', { code: 'body_too_large' });
  if (parserType) return new HearthError('invalid_request', `unreadable request body (${parserType})`, { code: 'invalid_body' });
  if (isValidatorError(err)) {
    const detail = err.errors
      .map((e) => `${(e.path ?? '').replace(/^\/?(body|query|params)\/?/, '').replace(/\//g, '.') || 'body'}: ${e.message ?? 'invalid'}`)
      .join('; ');
    if (err.status === 404) return new HearthError('not_found', '404 page not found', { code: 'route_not_found' });
    if (err.status === 405) return new HearthError('method_not_allowed', '405 method not allowed', { code: 'method_not_allowed' });
    if (err.status === 413) return new HearthError('payload_too_large', 'request body too large', { code: 'body_too_large' });
    return new HearthError('invalid_request', detail || 'invalid request', { code: 'invalid_request' });
  }
  return new HearthError('internal', 'internal error', { cause: err });
}

const openAiType: Record<string, string> = {
  invalid_request: 'invalid_request_error',
  not_found: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  unavailable: 'server_error',
  internal: 'server_error',
};

/**
 * The engine's one error middleware. /v1 answers in OpenAI's shape (its SDKs parse it),
 * everything else in Ollama's `{"error": "..."}`. A stream already under way gets a last
 * line carrying the error instead.
 */
export function engineErrorHandler(log: (err: unknown, req: Request) => void): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toHearthError(err);
    if (e.kind === 'internal') log(err, req);
    if (res.headersSent) {
      if (!res.writableEnded) res.end(req.path.startsWith('/v1/') ? `data: ${JSON.stringify({ error: { message: e.message, type: 'server_error' } })}\n\n` : `${JSON.stringify({ error: e.message })}\n`);
      return;
    }
    if (e.retryAfterS !== undefined) res.setHeader('Retry-After', String(e.retryAfterS));
    res.status(e.status);
    if (req.path.startsWith('/v1/')) {
      res.json({ error: { message: e.message, type: openAiType[e.kind] ?? 'invalid_request_error', param: null, code: e.code ?? null } });
    } else {
      res.json({ error: e.message });
    }
  };
}

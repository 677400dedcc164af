import type { ErrorRequestHandler, Request } from 'express';
import { toHearthError } from '../../http/error-mapping.js';

const openAiType: Record<string, string> = {
  invalid_request: 'invalid_request_error',
  not_found: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  unavailable: 'server_error',
  internal: 'server_error',
};

/**
 * The engine's one error middleware. /v1 answers in OpenAI's shape (its SDKs parse it),
 * everything else in Ollama's `{"error": "..."}` with the error's machine-readable `code` beside it. A stream already under way gets a last
 * line carrying the error instead.
 */
export function engineErrorHandler(log: (err: unknown, req: Request) => void): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const e = toHearthError(err);
    if (e.kind === 'internal') log(err, req);
    if (e.kind === 'client_closed') {
      // Nobody is left to read an answer: the access line notes the hang-up, at info.
      res.destroy();
      return;
    }
    if (res.headersSent) {
      if (!res.writableEnded) res.end(req.path.startsWith('/v1/') ? `data: ${JSON.stringify({ error: { message: e.message, type: 'server_error' } })}\n\n` : `${JSON.stringify({ error: e.message })}\n`);
      return;
    }
    if (e.retryAfterS !== undefined) res.setHeader('Retry-After', String(e.retryAfterS));
    res.status(e.status);
    if (req.path.startsWith('/v1/')) {
      res.json({ error: { message: e.message, type: openAiType[e.kind] ?? 'invalid_request_error', param: e.param ?? null, code: e.code ?? null } });
    } else {
      // Ollama's clients read `error`; `code` is for Hearth's backend client, which maps by it.
      res.json(e.code === undefined ? { error: e.message } : { error: e.message, code: e.code });
    }
  };
}

import { HearthError, invalidRequest, notFound } from '../errors.js';
import { BackendTimeoutError } from './backend-transport.js';

/**
 * Maps a failure of a backend call to Hearth's error kinds, by status and error class, never by
 * text. `model` is the model the call named (none for listing or unloading): only then does a
 * 404 mean "no such model".
 *
 * - the ollama client's ResponseError (the backend answered with an error status), recognised by
 *   its numeric `status_code` since the client does not export the class: 404 model_not_found,
 *   400 backend_rejected (the backend's reason shown), 429 and 503 backend_busy, anything else
 *   backend_error (internal: its text stays in the log);
 * - BackendTimeoutError (backend.request_timeout ran out): backend_timeout, 503;
 * - an AbortError (the call was aborted without a reason of Hearth's): client_aborted;
 * - a HearthError, such as the client_closed reason of a caller that went away: as it is;
 * - anything else (connection refused or reset, a cut stream): backend_unavailable, 503.
 */
export function backendError(err: unknown, model?: string): HearthError {
  if (err instanceof HearthError) return err;
  const fields = typeof err === 'object' && err !== null ? (err as { status_code?: unknown; name?: unknown }) : {};
  const status = fields.status_code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof status === 'number') {
    if (status === 404 && model !== undefined) return notFound(`model "${model}" not found`, 'model_not_found');
    if (status === 400) return invalidRequest(`the backend refused the request: ${message}`, 'backend_rejected');
    if (status === 503 || status === 429) return new HearthError('unavailable', 'the model backend is busy; retry shortly', { code: 'backend_busy', retryAfterS: 2, cause: err });
    return new HearthError('internal', 'the model backend failed', { code: 'backend_error', cause: err });
  }
  if (err instanceof BackendTimeoutError) {
    return new HearthError('unavailable', `the model backend did not finish within backend.request_timeout (${err.deadlineMs / 1000} s)`, {
      code: 'backend_timeout',
      retryAfterS: 5,
      cause: err,
    });
  }
  if (fields.name === 'AbortError') return new HearthError('invalid_request', 'request aborted by the client', { code: 'client_aborted', cause: err });
  return new HearthError('unavailable', 'the model backend is not reachable', { code: 'backend_unavailable', retryAfterS: 5, cause: err });
}

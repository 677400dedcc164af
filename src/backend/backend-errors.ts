import { HearthError, invalidRequest, notFound } from '../errors.js';
import { BackendTimeoutError, type BackendResponse } from './backend-transport.js';

/**
 * The backend answered with an error status. BackendClient's fetch throws it in place of the
 * ollama client's own ResponseError, which keeps only the message and the status: this also keeps
 * the machine-readable `code` the bundled engine writes beside Ollama's `error`.
 */
export class BackendResponseError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The backend's code (`context_length_exceeded`); Ollama itself gives none. */
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'BackendResponseError';
  }
}

/** The members of a response that an error answer is read from (BackendResponse's, fetch's). */
type ErrorAnswer = Pick<BackendResponse, 'ok' | 'status' | 'statusText' | 'text'>;

/**
 * Resolves with `res` when it is a success; else reads its body, Ollama's `{"error": "...",
 * "code": "..."}` (or any text), and rejects with a BackendResponseError.
 */
export async function rejectErrorAnswer<R extends ErrorAnswer>(res: R): Promise<R> {
  if (res.ok) return res;
  const text = await res.text();
  let message = text.trim() || `Error ${res.status}: ${res.statusText}`;
  let code: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: unknown; code?: unknown } | null;
    if (typeof body?.error === 'string') message = body.error;
    if (typeof body?.code === 'string') code = body.code;
  } catch {
    // Not JSON: the text is the message.
  }
  throw new BackendResponseError(res.status, message, code);
}

/**
 * Maps a failure of a backend call to Hearth's error kinds, by status, the backend's code and
 * error class, never by text. `model` is the model the call named (none for listing or
 * unloading): only then does a 404 mean "no such model". `promptParam` is the request field
 * that holds the prompt ('messages', 'prompt'), the `param` of a prompt too long for the context.
 *
 * - BackendResponseError (the backend answered with an error status): 400 with the code
 *   context_length_exceeded as it is (invalid_request, the backend's message, which names both
 *   lengths); 404 model_not_found; any other 400 backend_rejected (the backend's reason shown);
 *   429 and 503 backend_busy; anything else backend_error (internal: its text stays in the log);
 * - BackendTimeoutError (backend.request_timeout ran out): backend_timeout, 503;
 * - an AbortError (the call was aborted without a reason of Hearth's): client_aborted;
 * - a HearthError, such as the client_closed reason of a caller that went away: as it is;
 * - anything else (connection refused or reset, a cut stream): backend_unavailable, 503.
 */
export function backendError(err: unknown, model?: string, promptParam?: string): HearthError {
  if (err instanceof HearthError) return err;
  if (err instanceof BackendResponseError) {
    const status = err.status;
    if (status === 400 && err.code === 'context_length_exceeded') {
      return new HearthError('invalid_request', err.message, { code: 'context_length_exceeded', param: promptParam, cause: err });
    }
    if (status === 404 && model !== undefined) return notFound(`model "${model}" not found`, 'model_not_found');
    if (status === 400) return invalidRequest(`the backend refused the request: ${err.message}`, 'backend_rejected');
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
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
  if (name === 'AbortError') return new HearthError('invalid_request', 'request aborted by the client', { code: 'client_aborted', cause: err });
  return new HearthError('unavailable', 'the model backend is not reachable', { code: 'backend_unavailable', retryAfterS: 5, cause: err });
}

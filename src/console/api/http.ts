/** A refusal from the daemon: its status and the error body's code and message (openapi Error). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The daemon's error body ({"error": {message, code}}), or the status line when there is none. */
export async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`.trim();
  let code: string | null = null;
  try {
    const body = (await res.json()) as { error?: { message?: string; code?: string | null } };
    if (body.error?.message) message = body.error.message;
    code = body.error?.code ?? null;
  } catch {
    // Not JSON (a proxy's page, an empty body): the status line says what there is to say.
  }
  return new ApiError(res.status, code, message);
}

/** Query string of the set values only: an empty filter is no parameter (the contract refuses empty ones). */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** A path segment as the contract's routes take it (model names hold ':' and '/'). */
export const segment = (s: string): string => encodeURIComponent(s);

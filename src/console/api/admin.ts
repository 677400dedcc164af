import { errorOf } from './http.js';
import type { Session } from './types.js';

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

/**
 * The console's one way to the admin API. The session cookie (HttpOnly, set by the daemon) goes
 * with every same-origin request; the CSRF token lives only in this object, in memory, and goes
 * as X-CSRF-Token with every change. The admin token is never held here: it is sent once, to
 * sign in, and dropped.
 */
export class AdminClient {
  constructor(
    private readonly csrfToken: string,
    /** Called when the daemon no longer knows the session (expired, signed out elsewhere). */
    private readonly onSessionLost: () => void,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  delete(path: string): Promise<void> {
    return this.request<void>('DELETE', path);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = method === 'GET' ? { Accept: 'application/json' } : { ...JSON_HEADERS, 'X-CSRF-Token': this.csrfToken };
    const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) this.onSessionLost();
    if (!res.ok) throw await errorOf(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }
}

/** The session the browser's cookie holds, or undefined when there is none (or it has expired). */
export async function resumeSession(): Promise<Session | undefined> {
  const res = await fetch('/api/admin/session', { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  return res.ok ? ((await res.json()) as Session) : undefined;
}

/** Trades the admin token for a session cookie; the token is not kept. */
export async function signIn(token: string): Promise<Session> {
  const res = await fetch('/api/admin/session', { method: 'POST', headers: JSON_HEADERS, credentials: 'same-origin', body: JSON.stringify({ token }) });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as Session;
}

export async function signOut(csrfToken: string): Promise<void> {
  const res = await fetch('/api/admin/session', { method: 'DELETE', headers: { 'X-CSRF-Token': csrfToken }, credentials: 'same-origin' });
  // 401: the session had already ended, which is what signing out wants.
  if (!res.ok && res.status !== 401) throw await errorOf(res);
}

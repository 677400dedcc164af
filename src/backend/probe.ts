/** `status`: the server answered, with that status (401: it wants a secret this probe lacked). */
export type ProbeResult = { ok: true; version: string } | { ok: false; error: string; status?: number };

/**
 * GET `${url}/api/version`: an Ollama-compatible server (Ollama or the bundled engine) answers
 * 200 with `{"version": "…"}`. Anything else — refused, timed out, another status — is not it.
 */
export async function probeVersion(url: string, options: { timeoutMs?: number; signal?: AbortSignal; headers?: Readonly<Record<string, string>> } = {}): Promise<ProbeResult> {
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 2000), ...(options.signal ? [options.signal] : [])];
  try {
    const res = await fetch(`${url}/api/version`, { signal: AbortSignal.any(signals), ...(options.headers ? { headers: options.headers } : {}) });
    if (res.status !== 200) {
      await res.body?.cancel();
      return { ok: false, status: res.status, error: `GET ${url}/api/version answered ${res.status}` };
    }
    const body = (await res.json()) as { version?: unknown };
    return { ok: true, version: typeof body.version === 'string' ? body.version : '' };
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
    const message = err instanceof Error ? (err.name === 'TimeoutError' ? 'timed out' : err.message) : String(err);
    return { ok: false, error: `GET ${url}/api/version: ${cause ?? message}` };
  }
}

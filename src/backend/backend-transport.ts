import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

// The backend client's transport to the model backend: a `fetch` for the official ollama client, on
// node:http with one keep-alive pool. Node's own fetch (undici behind WHATWG Request, Response,
// Headers, AbortSignal.any and web streams) cost the daemon about 1 ms more CPU per proxied chat
// than node:http on the reference machine (bench/gateway), more than the rest of the gateway
// together, and allocated about 60 KB per call. The ollama client reads only a small part of a
// Response (ok, status, statusText, headers.get, json, text and, for streams, body), so that
// part is what this returns.

/** Idle pooled sockets close after this long: under the 5 s keep-alive of Node servers (the engine). */
const IDLE_SOCKET_MS = 4_000;

/** The part of the Fetch API's Response that the ollama client reads. */
export class BackendResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  private stream: ReadableStream<Uint8Array> | undefined;
  private consumed = false;

  constructor(private readonly res: IncomingMessage) {
    this.status = res.statusCode ?? 0;
    this.ok = this.status >= 200 && this.status < 300;
    this.statusText = res.statusMessage ?? '';
    this.headers = {
      get(name: string): string | null {
        const value = res.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    };
  }

  get bodyUsed(): boolean {
    return this.consumed;
  }

  /** The body as a web stream (streamed chat and generation); the same stream on every access, as in fetch. */
  get body(): ReadableStream<Uint8Array> {
    if (this.stream === undefined) {
      this.claim();
      this.stream = Readable.toWeb(this.res) as ReadableStream<Uint8Array>;
    }
    return this.stream;
  }

  text(): Promise<string> {
    this.claim();
    const res = this.res;
    return new Promise((resolve, reject) => {
      // Aborted or cut between the headers and this call: its events are already past.
      if (res.destroyed && !res.complete) return reject(res.errored ?? prematureClose());
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.once('error', reject);
      // Destroyed without an error: never leave the caller waiting.
      res.once('close', () => {
        if (!res.complete) reject(res.errored ?? prematureClose());
      });
    });
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  private claim(): void {
    if (this.consumed) throw new TypeError('the body of this response has already been read');
    this.consumed = true;
  }
}

/** What fetch rejects with on abort: the signal's reason (an AbortError DOMException by default). */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function prematureClose(): Error {
  return Object.assign(new Error('the backend closed the connection before the response was complete'), { code: 'ECONNRESET' });
}

function plainHeaders(headers: RequestInit['headers']): OutgoingHttpHeaders {
  if (headers === undefined) return {};
  if (headers instanceof Headers || Array.isArray(headers)) return Object.fromEntries(headers) as Record<string, string>;
  return { ...(headers as Record<string, string>) };
}

/**
 * A fetch-like call: `also` is a second abort signal (the gateway's client going away), and
 * `deadlineMs` bounds the whole exchange, body included; past it the call fails as aborted would,
 * with a BackendTimeoutError.
 */
export type BackendFetchFn = (input: string | URL | Request, init?: RequestInit, also?: AbortSignal, deadlineMs?: number) => Promise<BackendResponse>;

/** A backend call that outlived its deadline (backend.request_timeout). */
export class BackendTimeoutError extends Error {
  constructor(readonly deadlineMs: number) {
    super(`the backend did not finish within ${deadlineMs} ms`);
    this.name = 'BackendTimeoutError';
  }
}

export interface BackendTransport {
  fetch: BackendFetchFn;
  /** Closes the pooled sockets (shutdown). */
  close(): void;
}

/**
 * A fetch-compatible function over node:http(s) with one keep-alive pool per protocol. It takes
 * what the ollama client sends (a URL string, method, string body, plain headers, signal) and
 * resolves with a minimal Response once the status line and headers have arrived. Aborting
 * either signal rejects with its reason before the response, and cuts the body after it.
 * `headers` go with every request, over any the caller sets of the same name: the bundled
 * engine's `Authorization` (its secret) is the transport's, whatever client sends through it.
 */
export function createBackendTransport({ headers: always = {} }: { headers?: Readonly<Record<string, string>> } = {}): BackendTransport {
  // `timeout` applies to idle pooled sockets only (an active request is never cut by it); Node
  // shortens it further to a server's Keep-Alive hint minus 1 s.
  const agents = {
    'http:': new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
    'https:': new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  };
  // Lower-cased once: the check below runs for every header of every backend request.
  const own = new Set(Object.keys(always).map((n) => n.toLowerCase()));
  const backendFetch: BackendFetchFn = (input, init = {}, also, deadlineMs) => {
    if (input instanceof Request) return Promise.reject(new TypeError('backend fetch takes a URL, not a Request'));
    const url = typeof input === 'string' ? new URL(input) : input;
    const protocol = url.protocol;
    if (protocol !== 'http:' && protocol !== 'https:') return Promise.reject(new TypeError(`unsupported protocol ${protocol}`));
    const signals = [init.signal, also].filter((s): s is AbortSignal => s !== undefined && s !== null);
    const aborted = signals.find((s) => s.aborted);
    if (aborted) return Promise.reject(abortReason(aborted));
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string') return Promise.reject(new TypeError('backend fetch sends string bodies only'));
    const headers = plainHeaders(init.headers);
    if (own.size > 0) for (const name of Object.keys(headers)) if (own.has(name.toLowerCase())) delete headers[name];
    Object.assign(headers, always);
    if (body) headers['content-length'] = Buffer.byteLength(body);
    return new Promise((resolve, reject) => {
      const req = (protocol === 'http:' ? httpRequest : httpsRequest)(url, { method: init.method ?? 'GET', headers, agent: agents[protocol] });
      let res: IncomingMessage | undefined;
      const cut = (reason: unknown) => {
        const err = reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
        if (res) res.destroy(err);
        req.destroy(err);
        reject(reason);
      };
      const onAbort = (event: Event) => cut(abortReason(event.target as AbortSignal));
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
      const deadline = deadlineMs === undefined ? undefined : setTimeout(() => cut(new BackendTimeoutError(deadlineMs)), deadlineMs);
      const forget = () => {
        for (const s of signals) s.removeEventListener('abort', onAbort);
        clearTimeout(deadline);
      };
      req.on('error', (err) => {
        forget();
        reject(err);
      });
      req.once('response', (r) => {
        res = r;
        // Errors reach whoever reads the body (text(), the web stream); an unread one must not
        // become an uncaught exception.
        r.on('error', () => {});
        r.once('close', forget);
        resolve(new BackendResponse(r));
      });
      // One small JSON body: send it at once, never held back by Nagle.
      req.setNoDelay(true);
      req.end(body ?? undefined);
    });
  };
  return {
    fetch: backendFetch,
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

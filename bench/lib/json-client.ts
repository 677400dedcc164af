// A small JSON-over-HTTP client for load generation: Node's own `http` with a keep-alive pool.
// Both sides of a comparison use one each, so the client's CPU (which competes with the server's
// on a 2-core machine) is the same for both; `fetch` would cost about twice as much per request.

import { Agent, request, type IncomingMessage } from 'node:http';

export interface JsonResponse {
  status: number;
  /** The raw body; parse it only where the content is checked. */
  text: string;
}

export class JsonClient {
  private readonly agent: Agent;

  /** `sockets`: the most connections kept open to this origin (the load's concurrency). */
  constructor(
    private readonly baseUrl: string,
    sockets: number,
    private readonly headers: Record<string, string> = {},
  ) {
    const { hostname } = new URL(baseUrl);
    // Loopback only: the load must never leave the machine.
    if (hostname !== '127.0.0.1') throw new Error(`refusing to load a non-loopback address: ${baseUrl}`);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  /** POST `body` (already serialized) to `path`; resolves with the status and the whole body. */
  post(path: string, body: string, signal: AbortSignal): Promise<JsonResponse> {
    return this.send(path, body, signal, (res, resolve, reject) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
  }

  /**
   * POST `body` and hand each line of the answer to `onLine` as it arrives (an event stream's
   * `data:` lines, an NDJSON stream's objects), on the same keep-alive pool. Resolves with the
   * status once the body has ended; rejects with what `onLine` throws (an error event, say).
   */
  postLines(path: string, body: string, signal: AbortSignal, onLine: (line: string) => void): Promise<number> {
    return this.send(path, body, signal, (res, resolve, reject) => {
      let rest = '';
      const each = (lines: string[]): boolean => {
        try {
          for (const line of lines) if (line !== '') onLine(line);
          return true;
        } catch (err) {
          res.destroy();
          reject(err as Error);
          return false;
        }
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() as string;
        each(lines);
      });
      res.on('error', reject);
      res.on('end', () => {
        if (each([rest])) resolve(res.statusCode ?? 0);
      });
    });
  }

  /** One JSON POST on the pool; `read` turns its response into the result. */
  private send<T>(path: string, body: string, signal: AbortSignal, read: (res: IncomingMessage, resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.baseUrl}${path}`, {
        method: 'POST',
        agent: this.agent,
        signal,
        headers: { ...this.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.setNoDelay(true);
      req.on('error', reject);
      req.on('response', (res) => read(res, resolve, reject));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// HTTP/1.1 spoken byte by byte over a plain socket, for the requests no HTTP client will send:
// bodies that drip or never finish, malformed headers, a chosen local address.
import { connect, createServer, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}

export class RawClient {
  /** Everything received so far, as latin1 text. */
  received = '';
  /** The server ended its side (FIN). */
  ended = false;
  closed = false;
  private readonly closedPromise: Promise<void>;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    socket.on('data', (b: Buffer) => {
      this.received += b.toString('latin1');
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    // A reset from the server is a close too; the tests look at what arrived before it.
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.notify();
        resolve();
      }),
    );
  }

  /**
   * Connects to `url`'s host and port, from `localAddress` when given. Half-open allowed: like
   * a client that ignores the server's end and keeps sending, it never closes on its own, so a
   * close seen here is the server's doing.
   */
  static connect(url: string, localAddress?: string): Promise<RawClient> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true, ...(localAddress ? { localAddress } : {}) });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(data);
  }

  /** Writes `chunk` every `everyMs` until the socket closes or stop() is called. */
  drip(chunk: string, everyMs: number): { stop(): void } {
    const timer = setInterval(() => this.write(chunk), everyMs);
    this.socket.once('close', () => clearInterval(timer));
    return { stop: () => clearInterval(timer) };
  }

  /** The first complete response (its Content-Length body included); rejects after `timeoutMs` or on a close without one. */
  async response(timeoutMs: number): Promise<RawResponse> {
    const parsed = await this.until(() => parse(this.received) ?? (this.closed ? null : undefined), timeoutMs);
    if (parsed === null) throw new Error(`connection closed without a complete response; received ${JSON.stringify(this.received.slice(0, 300))}`);
    return parsed;
  }

  /**
   * True once the socket is closed, false if it is still open after `timeoutMs`. This client
   * never closes on its own, so a close means the server's end (FIN) and then the server's reset
   * of a later write, or a reset: the server no longer holds the connection at all.
   */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    return (await this.until(() => (this.closed ? true : undefined), timeoutMs).catch(() => false)) === true;
  }

  /**
   * True once the server has ended the connection (FIN) or reset it, false if neither within
   * `timeoutMs`. A client that sends nothing more sees no more than this of the server's close.
   */
  async endedWithin(timeoutMs: number): Promise<boolean> {
    return (await this.until(() => (this.ended || this.closed ? true : undefined), timeoutMs).catch(() => false)) === true;
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closedPromise;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private until<T>(check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = () => {
        const v = check();
        if (v === undefined) return;
        this.waiters.delete(done);
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new Error(`no answer within ${timeoutMs} ms; received ${JSON.stringify(this.received.slice(0, 300))}`));
      }, timeoutMs);
      this.waiters.add(done);
      done();
    });
  }
}

/** The first response in `text` if it is complete (a Content-Length body, or none). */
function parse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = Buffer.from(text.slice(end + 4), 'latin1');
  if (body.length < length) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body: body.subarray(0, length).toString('utf8') };
}

/** Whether `address` is a local address here (127.0.0.2 is on Linux, not on macOS): a listener binds to it. */
export function isLocalAddress(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, address, () => probe.close(() => resolve(true)));
  });
}

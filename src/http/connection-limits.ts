// Bounds on what clients can hold open: the time to send one request, the connections of one
// client, the connections of all of them. Without them a client that opens connections and
// never finishes its requests (20,000 of them, dripping bodies without a key) used up the
// process's file descriptors, and /api/v1/health stopped answering.
import type { Server, ServerOptions } from 'node:http';
import { isIPv6, type Socket } from 'node:net';
import type { Logger } from '../log.js';

/** Node's own default: the headers of any honest request arrive well within it. */
const HEADERS_TIMEOUT_MS = 60_000;

/**
 * Node's settings for limits.receive_timeout, the longest a client may take to send a whole
 * request, headers and body. Node checks for late requests every connectionsCheckingInterval
 * (30 s by default, which would let a 1 s timeout run for 31 s): a tenth of the timeout keeps
 * the overrun within 10 %. Once a request has arrived none of this applies, so a response
 * (a stream of many minutes) is never cut by it.
 */
export function receiveTimeouts(receiveTimeoutMs: number): Pick<ServerOptions, 'requestTimeout' | 'headersTimeout' | 'connectionsCheckingInterval'> {
  return {
    requestTimeout: receiveTimeoutMs,
    // Node refuses a headers timeout longer than the request timeout.
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, receiveTimeoutMs),
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.round(receiveTimeoutMs / 10))),
  };
}

/**
 * Who a connection counts against: its IPv4 address, or for IPv6 its /64, since a host may
 * take any address of its /64 (privacy addresses) and would otherwise get a fresh bound per
 * address. IPv4-mapped addresses (::ffff:192.0.2.1) count as the IPv4 address.
 */
export function clientOf(address: string): string {
  const plain = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped) return mapped[1]!;
  if (!isIPv6(plain)) return plain;
  const [head = '', tail] = plain.toLowerCase().split('::');
  const headGroups = head === '' ? [] : head.split(':');
  // With "::", the groups before it are followed by zeros; only the first four matter.
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8).fill('0')];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Open connections per client, refusing past `maxPerClient`. */
export class ClientConnections {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerClient: number) {}

  /** Counts a new connection of `client`; false, and not counted, when it already has its bound. */
  admit(client: string): boolean {
    const n = this.open.get(client) ?? 0;
    if (n >= this.maxPerClient) return false;
    this.open.set(client, n + 1);
    return true;
  }

  release(client: string): void {
    const n = this.open.get(client) ?? 0;
    if (n <= 1) this.open.delete(client);
    else this.open.set(client, n - 1);
  }

  count(client: string): number {
    return this.open.get(client) ?? 0;
  }
}

/**
 * One warning line per minute at most for refused connections, with how many were refused
 * since the last line and a few of the clients: a flood of refusals must not flood the log.
 */
export class RefusalLog {
  private refused = 0;
  private readonly clients = new Set<string>();
  private lastAt = -Infinity;

  constructor(
    private readonly log: Pick<Logger, 'warn'>,
    private readonly message: string,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = 60_000,
  ) {}

  note(client: string | undefined): void {
    this.refused++;
    if (client !== undefined && this.clients.size < 5) this.clients.add(client);
    if (this.now() - this.lastAt < this.intervalMs) return;
    this.log.warn(this.message, { refused: this.refused, clients: [...this.clients] });
    this.lastAt = this.now();
    this.refused = 0;
    this.clients.clear();
  }
}

/**
 * Applies limits.max_connections (Node closes a connection past it as soon as it is accepted)
 * and limits.max_connections_per_client (closed the same way, here) to `server`.
 */
export function limitConnections(
  server: Server,
  { maxConnections, maxPerClient, log, now = Date.now }: { maxConnections: number; maxPerClient: number; log: Pick<Logger, 'warn'>; now?: () => number },
): ClientConnections {
  server.maxConnections = maxConnections;
  const total = new RefusalLog(log, 'refused connections past limits.max_connections', now);
  server.on('drop', (data?: { remoteAddress?: string }) => total.note(data?.remoteAddress));

  const perClient = new ClientConnections(maxPerClient);
  const refusals = new RefusalLog(log, 'refused connections past limits.max_connections_per_client', now);
  server.on('connection', (socket: Socket) => {
    // Undefined once the client has already gone: nothing to count or hold.
    if (socket.remoteAddress === undefined) return;
    const client = clientOf(socket.remoteAddress);
    if (!perClient.admit(client)) {
      socket.destroy();
      refusals.note(client);
      return;
    }
    socket.once('close', () => perClient.release(client));
  });
  return perClient;
}

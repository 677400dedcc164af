import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { clientClosed } from '../errors.js';

/** The connections of a server that have not sent a request yet (see `watchConnections`). */
export interface ConnectionWatch {
  readonly unused: ReadonlySet<Socket>;
}

/**
 * Follows which of `server`'s connections have not begun a request. Node's
 * closeIdleConnections leaves those alone: it counts a connection as busy from the moment it
 * opens (so that its headers timeout runs), not from its first request. A client that opens a
 * connection ahead of need (a browser's preconnect, an HTTP client's pool replacing the socket
 * of a request it aborted) would then hold a drain to its deadline with nothing to drain.
 */
export function watchConnections(server: Server): ConnectionWatch {
  const unused = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  server.on('request', (req: { socket: Socket }) => unused.delete(req.socket));
  return { unused };
}

/** How a drain ended: the connections still open at its deadline were cut. */
export interface DrainOutcome {
  cutAtDeadline: number;
}

/**
 * Stops a server gracefully: no new connections, requests in flight may finish until the
 * deadline, then every connection is cut. Keep-alive connections that turn idle after their
 * last response are closed as they do, or a client's pool would hold shutdown to the deadline;
 * so are the connections that never sent a request, where `watch` follows them.
 */
export async function drainServer(server: Server, deadlineMs: number, watch?: ConnectionWatch): Promise<DrainOutcome> {
  const outcome: DrainOutcome = { cutAtDeadline: 0 };
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const closeIdle = () => {
    server.closeIdleConnections();
    for (const socket of watch?.unused ?? []) socket.destroy();
  };
  closeIdle();
  const sweep = setInterval(closeIdle, 100);
  const deadline = setTimeout(() => {
    server.getConnections((_err, open) => (outcome.cutAtDeadline = open));
    server.closeAllConnections();
  }, deadlineMs);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
  return outcome;
}

/**
 * An AbortSignal that fires when the client goes away before its response is complete, so its
 * generation stops and frees what it held (a sequence, a slot, a backend request). Its reason
 * is a client_closed HearthError, which the error handlers note at info instead of an error.
 */
export function clientGoneSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(clientClosed());
  });
  return controller.signal;
}

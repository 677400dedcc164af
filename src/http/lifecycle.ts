import type { Server, ServerResponse } from 'node:http';
import { clientClosed } from '../errors.js';

/**
 * Stops a server gracefully: no new connections, requests in flight may finish until the
 * deadline, then every connection is cut. Keep-alive connections that turn idle after their
 * last response are closed as they do, or a client's pool would hold shutdown to the deadline.
 */
export async function drainServer(server: Server, deadlineMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => server.closeAllConnections(), deadlineMs);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(deadline);
  }
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

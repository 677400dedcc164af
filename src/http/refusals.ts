// How the HTTP server refuses at the connection level: a response sent while its request's
// body is still arriving closes the connection after it, and requests that Node itself refuses
// (malformed, headers too large, not received in time) get an error object, not a bare status line.
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { HearthError } from '../errors.js';
import { beforeHeaders } from './before-headers.js';
import type { Logger } from '../log.js';

/**
 * How long a closing connection still reads (and drops) what its client sends after the last
 * response. Closing at once, with bytes still coming, makes the kernel answer with a reset,
 * which can discard the response before an honest client reads it (a 401 to a large upload
 * with a mistyped key becomes "connection reset"); a dripping client is held this long at most.
 * Apache lingers 2 s per read for the same reason.
 */
export const LINGER_MS = 2_000;

/** The request's body has not all arrived yet (it may never). */
function bodyStillArriving(req: IncomingMessage): boolean {
  return !req.complete && (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0);
}

/** Ends our side of `socket` now, reads and drops what still comes for `lingerMs`, then closes it. */
function lingeringEnd(socket: Socket | Duplex, lingerMs: number, last?: string): void {
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  if (last === undefined) socket.end();
  else socket.end(last);
  socket.resume();
}

/**
 * A response that goes out while its request's body is still arriving (a 401 or 403 before a
 * slow upload, a route that never reads its body) carries `Connection: close`, and the
 * connection ends after it. Otherwise Node reads the rest of the body to keep the connection
 * for the next request, and a client dripping its body, key or no key, holds the connection
 * (and a file descriptor) for as long as it likes. The decision is made when the headers are
 * written, the last moment `Connection` can still be set.
 */
export function closeAfterUnreadBody(server: Server, lingerMs = LINGER_MS): void {
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    beforeHeaders(res, () => {
      if (!bodyStillArriving(req)) return;
      res.setHeader('Connection', 'close');
      // With Connection: close, Node ends the socket after the response by calling its
      // destroySoon(), which would close it as soon as the response is written: linger instead.
      req.socket.destroySoon = function (this: Socket) {
        lingeringEnd(this, lingerMs);
      };
    });
  });
}

/** Node's refusals (its parser's error codes and its receive timeout) as HearthErrors; undefined for a socket error. */
export function refusalOf(err: NodeJS.ErrnoException & { reason?: unknown }, receiveTimeoutMs: number): HearthError | undefined {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HearthError('request_timeout', `the request did not arrive within limits.receive_timeout (${receiveTimeoutMs / 1000} s)`, { code: 'request_timeout' });
    case 'HPE_HEADER_OVERFLOW':
      return new HearthError('headers_too_large', 'request headers too large', { code: 'headers_too_large' });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new HearthError('payload_too_large', 'chunk extensions too large', { code: 'chunk_extensions_too_large' });
  }
  if (typeof err.code !== 'string' || !err.code.startsWith('HPE_')) return undefined;
  // llhttp's reason names what was wrong ("Invalid character in Content-Length").
  const reason = typeof err.reason === 'string' ? err.reason : err.code;
  return new HearthError('invalid_request', `malformed HTTP request: ${reason}`, { code: 'malformed_request' });
}

/**
 * Answers the requests Node refuses before any route sees them with `body(error)` as JSON
 * instead of Node's bare status line, then ends the connection (lingering, as above). A
 * socket error (a client that reset its connection) just closes it. The refusals are logged at
 * info without a stack: any client can cause them.
 */
export function answerClientErrors(
  server: Server,
  { body, log, receiveTimeoutMs, lingerMs = LINGER_MS }: { body: (e: HearthError) => unknown; log: Pick<Logger, 'info'>; receiveTimeoutMs: number; lingerMs?: number },
): void {
  // The response in flight on each socket, if any: once its headers are out, nothing else
  // may be written on that socket.
  const inFlight = new WeakMap<Duplex, ServerResponse>();
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    inFlight.set(req.socket, res);
    res.once('close', () => {
      if (inFlight.get(req.socket) === res) inFlight.delete(req.socket);
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const e = refusalOf(err, receiveTimeoutMs);
    const res = inFlight.get(socket);
    if (e === undefined || !socket.writable || res?.headersSent) {
      socket.destroy();
      return;
    }
    // The access line of a request whose body timed out then shows what its client got.
    if (res) res.statusCode = e.status;
    log.info('request refused', { status: e.status, code: e.code, remote_address: (socket as Socket).remoteAddress });
    const json = JSON.stringify(body(e));
    lingeringEnd(
      socket,
      lingerMs,
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  });
}

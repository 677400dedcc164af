// A request and its response as express hands them to middleware, without a server: Node's own
// IncomingMessage and ServerResponse, given express's request and response prototypes as an
// express app does, over an in-memory socket (a PassThrough) instead of a TCP connection. What
// the response writes is drained and dropped; `hangUp` closes the socket, which makes the
// response emit 'close' (a tick later) as a client's disconnect does on a real server.

import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import express, { type Request, type Response } from 'express';

export interface HttpPair {
  req: Request;
  res: Response;
  /** The client goes away (or the server closes the connection after the response): resolves once the response emitted 'close'. */
  hangUp(): Promise<void>;
  /** Resolves once the response has been written whole. */
  finished: Promise<void>;
}

export function httpPair({ method = 'GET', url = '/', headers = {} }: { method?: string; url?: string; headers?: Record<string, string> } = {}): HttpPair {
  const socket = new PassThrough();
  socket.resume();
  const incoming = new IncomingMessage(socket as unknown as Socket);
  incoming.method = method;
  incoming.url = url;
  for (const [name, value] of Object.entries(headers)) incoming.headers[name.toLowerCase()] = value;
  const outgoing = new ServerResponse(incoming);
  outgoing.assignSocket(socket as unknown as Socket);
  const req = Object.setPrototypeOf(incoming, express.request) as Request;
  const res = Object.setPrototypeOf(outgoing, express.response) as Response;
  res.locals = {} as Response['locals'];
  (req as { res?: Response }).res = res;
  (res as { req?: Request }).req = req;
  const finished = new Promise<void>((resolve) => res.once('finish', () => resolve()));
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  const hangUp = () => {
    socket.destroy();
    return closed;
  };
  return { req, res, hangUp, finished };
}

import type { Response } from 'express';
import type { HearthError } from '../errors.js';
import { errorBody } from './errors.js';
import { served, streamStarted } from './guard.js';

/**
 * The /api/v1/chat/stream event stream: `data: {"token": …}` events, a final `data: {"done":
 * true, …}`, then `data: [DONE]`. Until the first token, comment heartbeats keep proxies and
 * clients from timing out while the prompt is processed. The call is charged once the first
 * token (or the end) is out: a stream that fails before it costs nothing.
 */
export class SseStream {
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly res: Response,
    heartbeatMs: number,
  ) {
    streamStarted(res);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    this.heartbeat = setInterval(() => this.write(': ping\n\n'), heartbeatMs);
    this.heartbeat.unref();
  }

  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  token(text: string): void {
    this.stopHeartbeat();
    this.write(`data: ${JSON.stringify({ token: text })}\n\n`);
    served(this.res);
  }

  done(final: Record<string, unknown>): void {
    this.stopHeartbeat();
    served(this.res);
    this.write(`data: ${JSON.stringify({ done: true, ...final })}\n\n`);
    this.write('data: [DONE]\n\n');
    if (this.open) this.res.end();
  }

  error(e: HearthError): void {
    this.stopHeartbeat();
    this.write(`event: error\ndata: ${JSON.stringify(errorBody(e))}\n\n`);
    if (this.open) this.res.end();
  }

  close(): void {
    this.stopHeartbeat();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private write(chunk: string): void {
    if (this.open) this.res.write(chunk);
  }
}

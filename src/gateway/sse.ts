import type { Response } from 'express';
import type { HearthError } from '../errors.js';
import { streamErrorOf } from './errors.js';
import { served, streamStarted } from './guard.js';

/**
 * A server-sent event stream as the gateway's surfaces send one: the headers that keep proxies
 * from buffering it, and, until the first event, comment heartbeats (which every SSE client
 * skips) so that proxies and clients do not time out while the prompt is processed. The call is
 * metered as a stream: charged at its first event (`served`), so one that fails or is abandoned
 * before it costs nothing.
 */
export class EventStream {
  private heartbeat?: NodeJS.Timeout;

  constructor(
    protected readonly res: Response,
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

  /** One `data:` event; the first one charges the call. */
  protected event(data: unknown): void {
    this.stopHeartbeat();
    this.write(`data: ${JSON.stringify(data)}\n\n`);
    served(this.res);
  }

  /** `data: [DONE]`, then the end of the response. */
  protected finish(): void {
    this.stopHeartbeat();
    this.write('data: [DONE]\n\n');
    if (this.open) this.res.end();
  }

  close(): void {
    this.stopHeartbeat();
  }

  protected stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  protected write(chunk: string): void {
    if (this.open) this.res.write(chunk);
  }
}

/**
 * The /api/v1/chat/stream event stream: `data: {"token": …}` events, a final `data: {"done":
 * true, …}`, then `data: [DONE]`.
 */
export class SseStream extends EventStream {
  token(text: string): void {
    this.event({ token: text });
  }

  done(final: Record<string, unknown>): void {
    this.event({ done: true, ...final });
    this.finish();
  }

  error(e: HearthError): void {
    this.stopHeartbeat();
    this.write(streamErrorOf.hearth(e));
    if (this.open) this.res.end();
  }
}

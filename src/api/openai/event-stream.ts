import type { Response } from 'express';
import { served, streamStarted } from '../../gateway/guard.js';

/**
 * A stream as OpenAI sends one: `data: {chunk}` events, then `data: [DONE]`. Until the first
 * chunk, comment heartbeats (which OpenAI's SDKs skip) keep proxies from timing out while the
 * prompt is processed. The call is charged at the first chunk (`served`): a stream that fails
 * or is abandoned before it costs nothing. An error after the headers went out is the error
 * middleware's to send, in OpenAI's framing (a `data: {"error": …}` event), before it closes.
 */
export class OpenAiEventStream {
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

  /** One chunk; the first one charges the call. */
  send(chunk: unknown): void {
    this.stopHeartbeat();
    this.write(`data: ${JSON.stringify(chunk)}\n\n`);
    served(this.res);
  }

  end(): void {
    this.stopHeartbeat();
    this.write('data: [DONE]\n\n');
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

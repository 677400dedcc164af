import type { Response } from 'express';

/**
 * False once the client is gone. Writing to a destroyed response from inside node-llama-cpp's
 * token callback left its context unable to dispose (shutdown hung), so writers check first.
 */
function open(res: Response): boolean {
  return !res.destroyed && !res.writableEnded;
}

/** Newline-delimited JSON: one object per line, flushed as written. */
export class NdjsonWriter {
  constructor(private readonly res: Response) {}

  /** Sends the 200 and headers now: the request is accepted, errors from here on go in the stream. */
  start(): void {
    if (!open(this.res) || this.res.headersSent) return;
    this.res.status(200).setHeader('Content-Type', 'application/x-ndjson');
    this.res.flushHeaders();
  }

  write(obj: unknown): void {
    this.start();
    if (open(this.res)) this.res.write(JSON.stringify(obj) + '\n');
  }

  end(obj?: unknown): void {
    if (obj !== undefined) this.write(obj);
    if (open(this.res)) this.res.end();
  }
}

/** Server-sent events as OpenAI streams them: `data: {json}` blocks, then `data: [DONE]`. */
export class SseWriter {
  constructor(private readonly res: Response) {}

  /** Sends the 200 and headers now: the request is accepted, errors from here on go in the stream. */
  start(): void {
    if (!open(this.res) || this.res.headersSent) return;
    this.res.status(200).setHeader('Content-Type', 'text/event-stream');
    this.res.setHeader('Cache-Control', 'no-cache');
    this.res.flushHeaders();
  }

  write(obj: unknown): void {
    this.start();
    if (open(this.res)) this.res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);
  }

  end(): void {
    this.write('[DONE]');
    if (open(this.res)) this.res.end();
  }
}

import type { Response } from 'express';
import { HearthError } from '../../errors.js';
import type { Completion, StreamEvent } from '../../backend/inference.js';
import { streamTokenCounter } from '../../gateway/guard.js';
import { EventStream } from '../../gateway/sse.js';

/**
 * A stream as OpenAI sends one: `data: {chunk}` events, then `data: [DONE]` (headers,
 * heartbeats and metering are the gateway's EventStream). An error after the headers went out
 * is the error middleware's to send, in OpenAI's framing (a `data: {"error": …}` event), before
 * it closes.
 */
class OpenAiEventStream extends EventStream {
  /** One chunk; the first one charges the call. */
  send(chunk: unknown): void {
    this.event(chunk);
  }

  end(): void {
    this.finish();
  }
}

export const streamCutShort = () => new HearthError('unavailable', 'the model backend ended the stream before its end', { code: 'backend_unavailable', retryAfterS: 5 });

/** How one endpoint's chunks look: an opening chunk if it has one, one per text piece, the closing ones. */
export interface ChunkRenderer {
  start?: unknown;
  token(text: string): unknown;
  done(c: Completion): unknown[];
}

/**
 * Relays the backend's stream as OpenAI's chunks, reporting the tokens served as they go. A
 * backend stream that ends without its totals is an error the client is told of, not a stream
 * left waiting.
 */
export async function relayChunks(res: Response, heartbeatMs: number, events: AsyncIterable<StreamEvent>, render: ChunkRenderer): Promise<void> {
  const stream = new OpenAiEventStream(res, heartbeatMs);
  const count = streamTokenCounter(res);
  let started = render.start === undefined;
  try {
    for await (const event of events) {
      if (!stream.open) break;
      if (!started) {
        stream.send(render.start);
        started = true;
      }
      if (event.type === 'token') {
        count.piece();
        stream.send(render.token(event.text));
        continue;
      }
      count.done(event.completion);
      for (const chunk of render.done(event.completion)) stream.send(chunk);
      stream.end();
    }
  } finally {
    stream.close();
  }
  if (stream.open) throw streamCutShort();
}

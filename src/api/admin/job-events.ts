import type { RequestHandler } from 'express';
import type { FinetuneService, JobEvent } from '../../finetune/service.js';
import { EventStream } from '../../gateway/sse.js';
import { snakeKeys } from '../../views/snake-case.js';

/**
 * What a follower may leave unread before its stream is cut: a console that stopped reading
 * must not make the daemon hold the log of a whole run for it. It can open the stream again,
 * which starts over from the log file.
 */
const MAX_UNREAD_BYTES = 8 * 2 ** 20;

/**
 * A job's events as server-sent events: `event: log` (one log line), `event: progress` (JSON:
 * step, total_steps, epoch, loss, eval_loss, tokens_per_s, eta_s, and loss_points, the loss
 * points since the stream's previous progress event), `event: state` (JSON: {state}). Comment
 * heartbeats for as long as it is open, since a queued job may be silent for hours.
 */
class JobEventStream extends EventStream {
  private following = false;

  send(e: JobEvent): void {
    switch (e.type) {
      case 'log':
        return this.sse('log', e.line);
      case 'progress':
        return this.sse('progress', JSON.stringify(snakeKeys({ ...e.progress, lossPoints: e.points })));
      case 'state':
        return this.sse('state', JSON.stringify({ state: e.state }));
      case 'end':
        return this.end();
    }
  }

  /** From now on the events are live: an unread backlog past MAX_UNREAD_BYTES cuts the stream. */
  live(): void {
    this.following = true;
  }

  private sse(event: string, data: string): void {
    if (this.following && this.res.writableLength > MAX_UNREAD_BYTES) {
      // Cut, not ended: an end would wait for the unread bytes to drain, holding the follower.
      this.close();
      this.res.destroy();
      return;
    }
    // A line break inside the data would end the field: each line is a data line of its own,
    // which the client joins again with "\n".
    this.write(`event: ${event}\n${data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`).join('\n')}\n\n`);
  }

  private end(): void {
    this.close();
    if (this.open) this.res.end();
  }
}

/** GET /api/admin/finetune/jobs/:id/events: the log so far, the progress and state now, then live until the job ends. */
export function jobEventsHandler({ finetune, heartbeatMs }: { finetune: FinetuneService; heartbeatMs: number }): RequestHandler {
  return (req, res) => {
    const id = req.params.id as string;
    if (req.method === 'HEAD') {
      // HEAD learns whether the stream is there; following a job for a body never sent would hold the connection.
      finetune.jobs.byId(id);
      res.status(200).type('text/event-stream').end();
      return;
    }
    // The stream begins with the first event, which follow() gives before it returns: a 404 or
    // 503 is still a plain JSON error.
    let stream: JobEventStream | undefined;
    const stop = finetune.follow(id, (e) => {
      stream ??= new JobEventStream(res, heartbeatMs);
      stream.send(e);
    });
    stream?.live();
    res.on('close', () => {
      stop();
      stream?.close();
    });
  };
}

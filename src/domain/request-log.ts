import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import { describeError } from '../log.js';

// The request log (migration 0011): one row per API request, for the console's charts and daily
// usage. Rows are gathered in memory and written in one transaction at most every second or
// every 200 rows, so a request never waits for a write of its own; a crash loses at most that
// second. What is gathered is bounded: while the database refuses writes (locked by another
// process, the disk full), the oldest rows are dropped and counted, never memory without end.

export interface RequestLogEntry {
  /** When the request arrived. */
  at: Date;
  workspaceId: string | null;
  keyId: string | null;
  surface: string;
  /** The contract operation, 'POST /v1/chat/completions'. */
  route: string;
  model: string | null;
  status: number;
  promptTokens: number;
  completionTokens: number;
  credits: number;
  durationMs: number;
  /** A stream's first token; null for an answer sent whole. */
  ttftMs: number | null;
}

/** setTimeout and clearTimeout, as the log uses them; tests pass their own to move time by hand. */
export interface FlushTimer {
  set(run: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimer: FlushTimer = {
  set: (run, ms) => setTimeout(run, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface RequestLogOptions {
  log?: Logger;
  /** Rows that start a write at once. */
  batchRows?: number;
  /** The longest a row waits before it is written. */
  flushMs?: number;
  /** The most rows held while writes fail; past it the oldest are dropped. */
  maxBuffered?: number;
  timer?: FlushTimer;
}

export class RequestLog {
  private buffer: RequestLogEntry[] = [];
  private pending: unknown;
  private droppedRows = 0;
  /** The last write failed: the timer retries, a full batch does not force another try. */
  private failing = false;
  private readonly insert;
  private readonly batchRows: number;
  private readonly flushMs: number;
  private readonly maxBuffered: number;
  private readonly timer: FlushTimer;
  private readonly log: Logger | undefined;

  constructor(
    private readonly db: Database,
    options: RequestLogOptions = {},
  ) {
    this.batchRows = options.batchRows ?? 200;
    this.flushMs = options.flushMs ?? 1000;
    this.maxBuffered = Math.max(this.batchRows, options.maxBuffered ?? 10_000);
    this.timer = options.timer ?? realTimer;
    this.log = options.log;
    this.insert = db.prepare(
      `INSERT INTO request_log (at, workspace_id, key_id, surface, route, model, status, prompt_tokens, completion_tokens, credits, duration_ms, ttft_ms)
       VALUES (@at, @workspaceId, @keyId, @surface, @route, @model, @status, @promptTokens, @completionTokens, @credits, @durationMs, @ttftMs)`,
    );
  }

  /** Rows dropped since the start because the buffer was full (writes were failing). */
  get dropped(): number {
    return this.droppedRows;
  }

  /** Rows gathered and not written yet. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Notes a finished request; it is written within `flushMs`, or at once when a batch is full. */
  record(entry: RequestLogEntry): void {
    this.buffer.push(entry);
    this.dropOverflow();
    // While writes fail, only the timer tries again: not every request on its way out.
    if (this.buffer.length >= this.batchRows && !this.failing) this.flush();
    else this.schedule();
  }

  /**
   * Writes what is gathered now, in one transaction (readers call it first, so they see every
   * request that has finished). A failed write keeps the rows for the next try; returns how many
   * were written.
   */
  flush(): number {
    if (this.pending !== undefined) {
      this.timer.clear(this.pending);
      this.pending = undefined;
    }
    if (this.buffer.length === 0 || !this.db.open) return 0;
    const batch = this.buffer;
    this.buffer = [];
    try {
      this.db.transaction(() => {
        for (const e of batch) this.insert.run(rowOf(e));
      })();
      this.failing = false;
      return batch.length;
    } catch (err) {
      // Put back ahead of what arrived since; the timer tries again.
      this.buffer = batch.concat(this.buffer);
      this.dropOverflow();
      this.failing = true;
      this.log?.warn('request log: writing failed; rows kept for the next try', { rows: this.buffer.length, dropped_total: this.droppedRows, err: describeError(err) });
      this.schedule();
      return 0;
    }
  }

  /** Writes what is left; call after the last request has finished and before the database closes. */
  close(): void {
    this.flush();
    if (this.pending !== undefined) this.timer.clear(this.pending);
    this.pending = undefined;
    if (this.buffer.length > 0) this.log?.warn('request log: rows lost at shutdown', { rows: this.buffer.length });
    this.buffer = [];
  }

  private schedule(): void {
    this.pending ??= this.timer.set(() => {
      this.pending = undefined;
      this.flush();
    }, this.flushMs);
  }

  /** Keeps the newest maxBuffered rows; the count is in the next failure's warning (one line a try, not one a request). */
  private dropOverflow(): void {
    const over = this.buffer.length - this.maxBuffered;
    if (over <= 0) return;
    this.buffer.splice(0, over);
    this.droppedRows += over;
  }
}

function rowOf(e: RequestLogEntry) {
  return {
    at: e.at.toISOString(),
    workspaceId: e.workspaceId,
    keyId: e.keyId,
    surface: e.surface,
    route: e.route,
    model: e.model,
    status: e.status,
    promptTokens: e.promptTokens,
    completionTokens: e.completionTokens,
    credits: e.credits,
    durationMs: e.durationMs,
    ttftMs: e.ttftMs,
  };
}

import type { Database } from '../db/database.js';
import type { Clock } from './clock.js';
import { daysOf } from './days.js';
import { parsePeriod, periodOf, type Period } from './period.js';
import type { RequestLog } from './request-log.js';

// What the console's charts and usage table read from the request log. Both group in SQL; the
// charts' empty stretches are filled here, so a chart's x axis is the whole window.

export type StatsWindow = 'hour' | 'day';

/** Each window's buckets: the last hour by the minute, the last day by the hour. */
export const STATS_WINDOWS: Readonly<Record<StatsWindow, { bucketSeconds: number; buckets: number }>> = Object.freeze({
  hour: { bucketSeconds: 60, buckets: 60 },
  day: { bucketSeconds: 3600, buckets: 24 },
});

export interface Totals {
  requests: number;
  /** Answers with a status of 400 or more (refusals included), and requests the client left (499). */
  errors: number;
  credits: number;
  promptTokens: number;
  completionTokens: number;
}

export interface StatsBucket extends Totals {
  start: Date;
}

export interface DailyUsageRow {
  day: string;
  workspaceId: string;
  keyId: string | null;
  model: string | null;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  credits: number;
}

/** The buckets of `window` up to `now`: aligned to whole minutes or hours (UTC), the last one holding `now`. */
export function bucketRange(window: StatsWindow, now: Date): { first: number; bucketMs: number; count: number } {
  const { bucketSeconds, buckets } = STATS_WINDOWS[window];
  const bucketMs = bucketSeconds * 1000;
  return { first: Math.floor(now.getTime() / bucketMs) * bucketMs - (buckets - 1) * bucketMs, bucketMs, count: buckets };
}

/** `count` buckets from `first`, each with the totals of its index in `rows` or zeros: oldest first. */
export function fillBuckets(rows: ReadonlyArray<Totals & { bucket: number }>, range: { first: number; bucketMs: number; count: number }): StatsBucket[] {
  const byIndex = new Map(rows.map((r) => [r.bucket, r]));
  return Array.from({ length: range.count }, (_, i) => {
    const r = byIndex.get(i);
    return {
      start: new Date(range.first + i * range.bucketMs),
      requests: r?.requests ?? 0,
      errors: r?.errors ?? 0,
      credits: r?.credits ?? 0,
      promptTokens: r?.promptTokens ?? 0,
      completionTokens: r?.completionTokens ?? 0,
    };
  });
}

export class RequestStats {
  private readonly stmts;

  constructor(
    db: Database,
    private readonly requestLog: RequestLog,
    private readonly clock: Clock,
    /** The operator's zone: the months of the ledger and the days of daily usage. */
    private readonly timeZone: string,
  ) {
    this.stmts = {
      // Bucket boundaries are whole seconds, so unixepoch's whole seconds place every row right;
      // a JS number binds as a REAL, hence the CAST (the rows are at or after the first bucket).
      buckets: db.prepare<{ first: number; bucketS: number; from: string; to: string }, Totals & { bucket: number }>(
        `SELECT CAST((unixepoch(at) - @first) / @bucketS AS INTEGER) AS bucket, count(*) AS requests, sum(status >= 400) AS errors, sum(credits) AS credits,
                sum(prompt_tokens) AS promptTokens, sum(completion_tokens) AS completionTokens
           FROM request_log WHERE at >= @from AND at < @to GROUP BY bucket`,
      ),
      // The days as a JSON table, each a range of the index on `at`. A request without a
      // workspace (its key refused) is nobody's usage.
      daily: db.prepare<{ days: string; workspace: string | null }, DailyUsageRow>(
        `WITH days AS (SELECT value ->> 'day' AS day, value ->> 'start' AS day_start, value ->> 'end' AS day_end FROM json_each(@days))
         SELECT d.day AS day, r.workspace_id AS workspaceId, r.key_id AS keyId, r.model AS model, count(*) AS requests,
                sum(r.prompt_tokens) AS promptTokens, sum(r.completion_tokens) AS completionTokens, sum(r.credits) AS credits
           FROM days d JOIN request_log r ON r.at >= d.day_start AND r.at < d.day_end
          WHERE r.workspace_id IS NOT NULL AND (@workspace IS NULL OR r.workspace_id = @workspace)
          GROUP BY d.day, r.workspace_id, r.key_id, r.model
          ORDER BY d.day, r.workspace_id, r.key_id, r.model`,
      ),
    };
  }

  /** Requests, errors, credits and tokens of each bucket of the window that ends now. */
  window(window: StatsWindow): StatsBucket[] {
    this.requestLog.flush();
    const range = bucketRange(window, this.clock.now());
    const rows = this.stmts.buckets.all({
      first: range.first / 1000,
      bucketS: range.bucketMs / 1000,
      from: new Date(range.first).toISOString(),
      to: new Date(range.first + range.count * range.bucketMs).toISOString(),
    });
    return fillBuckets(rows, range);
  }

  /** One row per day, workspace, key and model of `period` (the current one by default) that saw a request. */
  daily(options: { period?: Period; workspaceId?: string } = {}): { period: Period; rows: DailyUsageRow[] } {
    this.requestLog.flush();
    const period = options.period ?? periodOf(this.clock.now(), this.timeZone);
    parsePeriod(period);
    const days = daysOf(period, this.timeZone).map((d) => ({ day: d.day, start: d.start.toISOString(), end: d.end.toISOString() }));
    return { period, rows: this.stmts.daily.all({ days: JSON.stringify(days), workspace: options.workspaceId ?? null }) };
  }
}

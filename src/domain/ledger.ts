import type { Database } from '../db/database.js';
import { HearthError, invalidRequest, notFound } from '../errors.js';
import type { Clock } from './clock.js';
import { assertTimeZone, parsePeriod, periodBounds, periodOf, type Period } from './period.js';

// The credit ledger. A call that costs credits is metered in two steps around its work:
//
//   reserve  — before the call: the credits are taken from the month's budget or the call is
//              refused (insufficient_quota). Concurrent requests, from any number of processes,
//              cannot overspend: the check and the charge are one BEGIN IMMEDIATE transaction.
//   settle   — the call succeeded: the credits stay charged.
//   release  — the call failed or was aborted: the credits are refunded.
//
// Each step appends a row; nothing is ever updated or deleted (the schema's triggers refuse).
// period_usage caches SUM(reserve) − SUM(release) per workspace and month, written in the same
// transactions, so a reservation reads one row instead of summing the ledger.
// Calls that cost 0 credits need no reservation at all.

export interface Reservation {
  /** The reserve row's seq in the ledger. */
  id: number;
  workspaceId: string;
  keyId: string | null;
  endpoint: string;
  credits: number;
  /** Month charged, fixed when the reservation was made even if it concludes after a rollover. */
  period: Period;
  requestId: string;
  createdAt: Date;
}

export type Conclusion = 'settle' | 'release';

export interface Usage {
  period: Period;
  periodStart: Date;
  periodEnd: Date;
  /** The workspace's monthly budget as it is now (budgets keep no history); null = unlimited. */
  limit: number | null;
  /** Credits charged in the period: settled calls plus calls in flight. */
  used: number;
  remaining: number | null;
  /** Credits of calls reserved but not yet settled or released. */
  pending: number;
  /** Settled calls only. */
  byEndpoint: Array<{ endpoint: string; calls: number; credits: number }>;
}

export interface UsageRow {
  workspaceId: string;
  period: Period;
  credits: number;
}

export interface LedgerOptions {
  clock: Clock;
  /** IANA zone whose calendar months are the billing periods, e.g. 'Europe/Berlin'. */
  timeZone: string;
}

interface ReserveRow {
  seq: number;
  workspace_id: string;
  key_id: string | null;
  period: string;
  endpoint: string;
  credits: number;
  request_id: string;
  created_at: string;
}

const RESERVE_COLS = 'seq, workspace_id, key_id, period, endpoint, credits, request_id, created_at';

function reservationFromRow(r: ReserveRow): Reservation {
  return {
    id: r.seq,
    workspaceId: r.workspace_id,
    keyId: r.key_id,
    endpoint: r.endpoint,
    credits: r.credits,
    period: r.period,
    requestId: r.request_id,
    createdAt: new Date(r.created_at),
  };
}

export class Ledger {
  private readonly clock: Clock;
  private readonly timeZone: string;
  private readonly stmts;
  /** The period of the last charge and its bounds: most calls fall in it and skip Intl. */
  private current = { period: '', startMs: 0, endMs: 0 };
  private readonly reserveTx;
  private readonly releaseTx;

  constructor(
    private readonly db: Database,
    options: LedgerOptions,
  ) {
    this.clock = options.clock;
    this.timeZone = options.timeZone;
    assertTimeZone(this.timeZone);
    this.stmts = {
      budgetAndUsed: db.prepare<[string, string], { budget: number | null; used: number }>(
        `SELECT coalesce(w.monthly_credits, p.monthly_credits) AS budget,
                coalesce((SELECT u.credits FROM period_usage u WHERE u.workspace_id = w.id AND u.period = ?), 0) AS used
           FROM workspaces w JOIN plans p ON p.id = w.plan_id
          WHERE w.id = ?`,
      ),
      insertReserve: db.prepare(
        `INSERT INTO ledger (workspace_id, key_id, period, endpoint, kind, credits, request_id, created_at)
         VALUES (?, ?, ?, ?, 'reserve', ?, ?, ?)`,
      ),
      addUsage: db.prepare(
        `INSERT INTO period_usage (workspace_id, period, credits) VALUES (?, ?, ?)
         ON CONFLICT (workspace_id, period) DO UPDATE SET credits = credits + excluded.credits`,
      ),
      subtractUsage: db.prepare('UPDATE period_usage SET credits = credits - ? WHERE workspace_id = ? AND period = ?'),
      // Copies the reservation's fields into its conclusion; the unique index on `reservation`
      // turns a second conclusion into an ignored no-op (0 changes).
      conclude: db.prepare(
        `INSERT OR IGNORE INTO ledger (workspace_id, key_id, period, endpoint, kind, credits, request_id, reservation, created_at)
         SELECT workspace_id, key_id, period, endpoint, ?, credits, request_id, seq, ?
           FROM ledger WHERE seq = ? AND kind = 'reserve'`,
      ),
      reservation: db.prepare<[number], ReserveRow>(`SELECT ${RESERVE_COLS} FROM ledger WHERE seq = ? AND kind = 'reserve'`),
      conclusionOf: db.prepare<[number], string>('SELECT kind FROM ledger WHERE reservation = ?').pluck(),
      sweepMark: db.prepare<[], number>('SELECT through_seq FROM ledger_sweep WHERE id = 1').pluck(),
      setSweepMark: db.prepare('UPDATE ledger_sweep SET through_seq = ? WHERE id = 1'),
      lastSeq: db.prepare<[], number | null>('SELECT max(seq) FROM ledger').pluck(),
      open: db.prepare<[number], ReserveRow>(
        `SELECT ${RESERVE_COLS} FROM ledger r
          WHERE r.seq > ? AND r.kind = 'reserve'
            AND NOT EXISTS (SELECT 1 FROM ledger c WHERE c.reservation = r.seq)
          ORDER BY r.seq`,
      ),
      budget: db.prepare<[string], { budget: number | null }>(
        'SELECT coalesce(w.monthly_credits, p.monthly_credits) AS budget FROM workspaces w JOIN plans p ON p.id = w.plan_id WHERE w.id = ?',
      ),
      used: db.prepare<[string, string], number>('SELECT credits FROM period_usage WHERE workspace_id = ? AND period = ?').pluck(),
      byEndpoint: db.prepare<[string, string], { endpoint: string; calls: number; credits: number }>(
        `SELECT endpoint, count(*) AS calls, sum(credits) AS credits FROM ledger
          WHERE workspace_id = ? AND period = ? AND kind = 'settle'
          GROUP BY endpoint ORDER BY endpoint`,
      ),
      derivedUsage: db.prepare<[], { workspaceId: string; period: string; credits: number }>(
        `SELECT workspace_id AS workspaceId, period,
                sum(CASE kind WHEN 'reserve' THEN credits WHEN 'release' THEN -credits ELSE 0 END) AS credits
           FROM ledger GROUP BY workspace_id, period ORDER BY workspace_id, period`,
      ),
      cachedUsage: db.prepare<[], { workspaceId: string; period: string; credits: number }>(
        'SELECT workspace_id AS workspaceId, period, credits FROM period_usage ORDER BY workspace_id, period',
      ),
      clearUsage: db.prepare('DELETE FROM period_usage'),
      putUsage: db.prepare('INSERT INTO period_usage (workspace_id, period, credits) VALUES (?, ?, ?)'),
    };

    this.reserveTx = db.transaction((input: ReserveInput, now: Date, period: Period, periodEndMs: number): Reservation => {
      const row = this.stmts.budgetAndUsed.get(period, input.workspaceId);
      if (row === undefined) throw notFound(`no workspace '${input.workspaceId}'`, 'workspace_not_found');
      if (row.budget !== null && row.used + input.credits > row.budget) {
        throw new HearthError(
          'insufficient_quota',
          `monthly credits exhausted: ${row.used} of ${row.budget} used in ${period}, this call needs ${input.credits}`,
          { code: 'credits_exhausted', retryAfterS: Math.max(1, Math.ceil((periodEndMs - now.getTime()) / 1000)) },
        );
      }
      const createdAt = now.toISOString();
      const seq = Number(
        this.stmts.insertReserve.run(input.workspaceId, input.keyId, period, input.endpoint, input.credits, input.requestId, createdAt).lastInsertRowid,
      );
      this.stmts.addUsage.run(input.workspaceId, period, input.credits);
      return { id: seq, workspaceId: input.workspaceId, keyId: input.keyId, endpoint: input.endpoint, credits: input.credits, period, requestId: input.requestId, createdAt: now };
    });

    this.releaseTx = db.transaction((id: number, at: string): Conclusion => {
      if (this.stmts.conclude.run('release', at, id).changes === 1) {
        const r = this.stmts.reservation.get(id) as ReserveRow;
        this.stmts.subtractUsage.run(r.credits, r.workspace_id, r.period);
        return 'release';
      }
      return this.existingConclusion(id);
    });
  }

  /**
   * Takes `credits` from the workspace's budget for the current period, or throws
   * insufficient_quota (code credits_exhausted, retryAfterS = seconds to the rollover).
   * The period is read from the clock here, so a late or missed cron tick cannot mis-charge.
   */
  reserve(input: ReserveInput): Reservation {
    if (!Number.isSafeInteger(input.credits) || input.credits < 1) {
      throw invalidRequest('credits to reserve must be a whole number ≥ 1; calls that cost 0 need no reservation', 'invalid_credits');
    }
    if (typeof input.requestId !== 'string' || input.requestId === '') throw invalidRequest('requestId is required', 'invalid_request_id');
    if (typeof input.endpoint !== 'string' || input.endpoint === '') throw invalidRequest('endpoint is required', 'invalid_endpoint');
    const now = this.clock.now();
    const ms = now.getTime();
    if (ms < this.current.startMs || ms >= this.current.endMs) {
      const period = periodOf(now, this.timeZone);
      const { start, end } = periodBounds(period, this.timeZone);
      this.current = { period, startMs: start.getTime(), endMs: end.getTime() };
    }
    return this.reserveTx.immediate({ ...input, keyId: input.keyId ?? null }, now, this.current.period, this.current.endMs);
  }

  /** The call succeeded: its credits stay charged. Returns the conclusion that stands (idempotent). */
  settle(reservation: Reservation | number): Conclusion {
    const id = reservationId(reservation);
    // One statement, so autocommit makes it atomic: no explicit transaction needed.
    if (this.stmts.conclude.run('settle', this.clock.now().toISOString(), id).changes === 1) return 'settle';
    return this.existingConclusion(id);
  }

  /** The call failed or was aborted: its credits are refunded. Returns the conclusion that stands (idempotent). */
  release(reservation: Reservation | number): Conclusion {
    return this.releaseTx.immediate(reservationId(reservation), this.clock.now().toISOString());
  }

  /**
   * Releases reservations that were never settled nor released: their process died mid-call,
   * and a call that did not complete charges nothing. Settled charges are untouched.
   *
   * Without `olderThan` it releases every open reservation: call it only while no process can
   * have a call in flight (at daemon startup, before serving). With `olderThan` it releases only
   * reservations made before that instant, which is safe at any time once it lies further back
   * than the longest a call may run.
   */
  releaseDangling(options: { olderThan?: Date } = {}): Reservation[] {
    const cutoff = options.olderThan?.toISOString();
    return this.db
      .transaction((): Reservation[] => {
        const at = this.clock.now().toISOString();
        const released: Reservation[] = [];
        let stillOpen: number | undefined;
        for (const row of this.stmts.open.all(this.stmts.sweepMark.get() as number)) {
          if (cutoff !== undefined && row.created_at >= cutoff) {
            stillOpen ??= row.seq;
            continue;
          }
          if (this.releaseTx(row.seq, at) === 'release') released.push(reservationFromRow(row));
        }
        // Everything before the first reservation still open is concluded for good.
        this.stmts.setSweepMark.run(stillOpen !== undefined ? stillOpen - 1 : (this.stmts.lastSeq.get() ?? 0));
        return released;
      })
      .immediate();
  }

  /** The workspace's credits in `period` (default: the current one), read as one snapshot. */
  usage(workspaceId: string, period?: Period): Usage {
    const p = period ?? periodOf(this.clock.now(), this.timeZone);
    parsePeriod(p);
    const { start, end } = periodBounds(p, this.timeZone);
    return this.db.transaction((): Usage => {
      const b = this.stmts.budget.get(workspaceId);
      if (b === undefined) throw notFound(`no workspace '${workspaceId}'`, 'workspace_not_found');
      const used = this.stmts.used.get(workspaceId, p) ?? 0;
      const byEndpoint = this.stmts.byEndpoint.all(workspaceId, p);
      const settled = byEndpoint.reduce((sum, e) => sum + e.credits, 0);
      return {
        period: p,
        periodStart: start,
        periodEnd: end,
        limit: b.budget,
        used,
        remaining: b.budget === null ? null : Math.max(0, b.budget - used),
        pending: used - settled,
        byEndpoint,
      };
    })();
  }

  /** period_usage derived from the ledger alone: what the cache must hold. */
  recomputeUsage(): UsageRow[] {
    return this.stmts.derivedUsage.all();
  }

  /** Rows where the period_usage cache and the ledger disagree (empty when consistent). */
  usageDiscrepancies(): Array<{ workspaceId: string; period: Period; cached: number; derived: number }> {
    return this.db.transaction(() => {
      const key = (r: UsageRow) => `${r.workspaceId}\u0000${r.period}`;
      const cached = new Map(this.stmts.cachedUsage.all().map((r) => [key(r), r]));
      const out: Array<{ workspaceId: string; period: Period; cached: number; derived: number }> = [];
      for (const d of this.recomputeUsage()) {
        const c = cached.get(key(d));
        cached.delete(key(d));
        if ((c?.credits ?? 0) !== d.credits) out.push({ workspaceId: d.workspaceId, period: d.period, cached: c?.credits ?? 0, derived: d.credits });
      }
      for (const c of cached.values()) if (c.credits !== 0) out.push({ workspaceId: c.workspaceId, period: c.period, cached: c.credits, derived: 0 });
      return out;
    })();
  }

  /** Rewrites the period_usage cache from the ledger (repair; the ledger is the truth). */
  rebuildUsage(): void {
    this.db
      .transaction(() => {
        this.stmts.clearUsage.run();
        for (const r of this.recomputeUsage()) this.stmts.putUsage.run(r.workspaceId, r.period, r.credits);
      })
      .immediate();
  }

  private existingConclusion(id: number): Conclusion {
    const kind = this.stmts.conclusionOf.get(id);
    if (kind === 'settle' || kind === 'release') return kind;
    throw notFound(`no reservation ${id} in the ledger`, 'reservation_not_found');
  }
}

export interface ReserveInput {
  workspaceId: string;
  keyId: string | null;
  /** Catalog endpoint key, e.g. 'POST /chat'. */
  endpoint: string;
  credits: number;
  requestId: string;
}

function reservationId(r: Reservation | number): number {
  const id = typeof r === 'number' ? r : r.id;
  if (!Number.isSafeInteger(id) || id < 1) throw invalidRequest(`invalid reservation id '${String(id)}'`, 'invalid_reservation');
  return id;
}

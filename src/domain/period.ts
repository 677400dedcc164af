import { invalidRequest } from '../errors.js';

// A billing period is a calendar month in the operator's configured time zone, written
// 'YYYY-MM'. Periods are computed from the clock at the moment of each charge, so a missed or
// late cron tick can never charge a call to the wrong month.

export type Period = string;

const PERIOD_RE = /^(\d{4})-(0[1-9]|1[0-2])$/;

// Intl.DateTimeFormat construction costs tens of microseconds; formatting with a kept one, a few.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit' });
    } catch {
      throw invalidRequest(`unknown time zone '${timeZone}'`, 'invalid_time_zone');
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws invalid_request unless the zone is one Intl knows (an IANA name such as 'Europe/Berlin', or 'UTC'). */
export function assertTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

/** The period ('YYYY-MM') that `date` falls in, reading the calendar in `timeZone`. */
export function periodOf(date: Date, timeZone: string): Period {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw invalidRequest('invalid date', 'invalid_date');
  let year = '';
  let month = '';
  for (const part of formatterFor(timeZone).formatToParts(ms)) {
    if (part.type === 'year') year = part.value;
    else if (part.type === 'month') month = part.value;
  }
  return `${year.padStart(4, '0')}-${month}`;
}

export function parsePeriod(period: string): { year: number; month: number } {
  const m = PERIOD_RE.exec(period);
  if (m === null) throw invalidRequest(`invalid period '${period}': expected YYYY-MM`, 'invalid_period');
  return { year: Number(m[1]), month: Number(m[2]) };
}

/** The period after `period`. */
export function nextPeriod(period: Period): Period {
  const { year, month } = parsePeriod(period);
  return month === 12 ? `${String(year + 1).padStart(4, '0')}-01` : `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}`;
}

// UTC offsets in use lie within −12 h … +14 h, so the first instant of a month in any zone lies
// within these bounds around UTC midnight of the 1st.
const EARLIEST_OFFSET_MS = 15 * 3600_000;
const LATEST_OFFSET_MS = 13 * 3600_000;

/**
 * The first instant whose local date in `timeZone` falls in `period`. Found by bisection on
 * the millisecond rather than by offset arithmetic, so zones whose midnight is skipped by a
 * daylight-saving jump still get the true first instant of the month.
 */
function firstInstant(period: Period, timeZone: string): number {
  const { year, month } = parsePeriod(period);
  const utcMidnight = Date.UTC(year, month - 1, 1);
  let before = utcMidnight - EARLIEST_OFFSET_MS; // local time here is still in the previous month
  let inside = utcMidnight + LATEST_OFFSET_MS; // and here already in `period`
  while (inside - before > 1) {
    const mid = Math.floor((before + inside) / 2);
    if (periodOf(new Date(mid), timeZone) >= period) inside = mid;
    else before = mid;
  }
  return inside;
}

/** `start` is the first instant of the month in `timeZone`; `end` the first instant of the next (exclusive). */
export function periodBounds(period: Period, timeZone: string): { start: Date; end: Date } {
  return { start: new Date(firstInstant(period, timeZone)), end: new Date(firstInstant(nextPeriod(period), timeZone)) };
}

/** When the period containing `now` ends, i.e. the next monthly rollover in `timeZone`. */
export function nextRollover(now: Date, timeZone: string): Date {
  return periodBounds(periodOf(now, timeZone), timeZone).end;
}

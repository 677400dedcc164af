import { periodBounds, type Period } from './period.js';

// The calendar days of a billing period in the operator's time zone, as instants: daily usage
// groups requests by the day they fall on there, as the ledger puts them in its months.

export interface Day {
  /** 'YYYY-MM-DD' in the zone. */
  day: string;
  start: Date;
  /** The next day's start (exclusive). */
  end: Date;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The date of `ms` in `timeZone`, 'YYYY-MM-DD' (the zone was checked by the ledger at start). */
export function dayOf(ms: number, timeZone: string): string {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, f);
  }
  const part = Object.fromEntries(f.formatToParts(ms).map((p) => [p.type, p.value]));
  return `${String(part.year).padStart(4, '0')}-${part.month}-${part.day}`;
}

const HOUR = 3_600_000;

/**
 * Each day of `period` in `timeZone`, in order. A day lasts 23 to 25 hours across a
 * daylight-saving change (Lord Howe's half-hour one included), so each next midnight is found by
 * bisection on the millisecond between 12 and 36 hours on, never by adding 24 hours.
 */
export function daysOf(period: Period, timeZone: string): Day[] {
  const { start, end } = periodBounds(period, timeZone);
  const days: Day[] = [];
  let from = start.getTime();
  while (from < end.getTime()) {
    const today = dayOf(from, timeZone);
    let before = from + 12 * HOUR;
    let after = from + 36 * HOUR;
    while (after - before > 1) {
      const mid = Math.floor((before + after) / 2);
      if (dayOf(mid, timeZone) > today) after = mid;
      else before = mid;
    }
    const next = Math.min(after, end.getTime());
    days.push({ day: today, start: new Date(from), end: new Date(next) });
    from = next;
  }
  return days;
}

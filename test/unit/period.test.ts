import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextPeriod, nextRollover, periodBounds, periodOf } from '../../src/domain/period.js';
import { HearthError } from '../../src/errors.js';

const at = (iso: string) => new Date(iso);

describe('billing periods', () => {
  it('are calendar months in UTC', () => {
    assert.equal(periodOf(at('2025-01-31T23:59:59.999Z'), 'UTC'), '2025-01');
    assert.equal(periodOf(at('2025-02-01T00:00:00.000Z'), 'UTC'), '2025-02');
    assert.deepEqual(periodBounds('2024-02', 'UTC'), { start: at('2024-02-01T00:00:00Z'), end: at('2024-03-01T00:00:00Z') });
    assert.equal(nextPeriod('2024-12'), '2025-01');
  });

  it('follow the calendar of America/New_York (UTC−5 in winter, −4 in summer)', () => {
    const tz = 'America/New_York';
    // 31 Jan 23:59:59.999 EST is 1 Feb 04:59:59.999 UTC: still January in New York.
    assert.equal(periodOf(at('2025-02-01T04:59:59.999Z'), tz), '2025-01');
    assert.equal(periodOf(at('2025-02-01T05:00:00.000Z'), tz), '2025-02');
    // The year turns at 05:00 UTC.
    assert.equal(periodOf(at('2025-01-01T04:59:59.999Z'), tz), '2024-12');
    assert.equal(periodOf(at('2025-01-01T05:00:00.000Z'), tz), '2025-01');
    // March starts in EST, April in EDT: the month is 31 days minus the skipped hour long.
    const march = periodBounds('2025-03', tz);
    assert.deepEqual(march, { start: at('2025-03-01T05:00:00Z'), end: at('2025-04-01T04:00:00Z') });
    assert.equal(march.end.getTime() - march.start.getTime(), 31 * 86_400_000 - 3_600_000);
    // November gets the hour back.
    assert.deepEqual(periodBounds('2025-11', tz), { start: at('2025-11-01T04:00:00Z'), end: at('2025-12-01T05:00:00Z') });
    assert.deepEqual(nextRollover(at('2025-03-31T23:00:00Z'), tz), at('2025-04-01T04:00:00Z'));
  });

  it('follow the calendar of Asia/Kolkata (UTC+5:30)', () => {
    const tz = 'Asia/Kolkata';
    // 1 Feb 00:00 IST is 31 Jan 18:30 UTC: February in Kolkata while still January in UTC.
    assert.equal(periodOf(at('2025-01-31T18:29:59.999Z'), tz), '2025-01');
    assert.equal(periodOf(at('2025-01-31T18:30:00.000Z'), tz), '2025-02');
    assert.equal(periodOf(at('2024-12-31T18:30:00.000Z'), tz), '2025-01');
    assert.deepEqual(periodBounds('2024-12', tz), { start: at('2024-11-30T18:30:00Z'), end: at('2024-12-31T18:30:00Z') });
    assert.deepEqual(periodBounds('2024-02', tz), { start: at('2024-01-31T18:30:00Z'), end: at('2024-02-29T18:30:00Z') }); // leap year
    assert.deepEqual(nextRollover(at('2025-06-30T18:29:59Z'), tz), at('2025-06-30T18:30:00Z'));
    assert.deepEqual(nextRollover(at('2025-06-30T18:30:00Z'), tz), at('2025-07-31T18:30:00Z'));
  });

  it('bounds hold for every month in far-apart zones', () => {
    for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Australia/Lord_Howe', 'America/Santiago']) {
      for (let m = 1; m <= 12; m++) {
        const period = `2025-${String(m).padStart(2, '0')}`;
        const { start, end } = periodBounds(period, tz);
        assert.equal(periodOf(start, tz), period, `${tz} ${period} start`);
        assert.notEqual(periodOf(new Date(start.getTime() - 1), tz), period, `${tz} ${period} start − 1 ms`);
        assert.equal(periodOf(new Date(end.getTime() - 1), tz), period, `${tz} ${period} end − 1 ms`);
        assert.equal(periodOf(end, tz), nextPeriod(period), `${tz} ${period} end`);
      }
    }
  });

  it('refuses unknown zones and malformed periods', () => {
    assert.throws(() => periodOf(new Date(), 'Mars/Olympus_Mons'), (e: unknown) => e instanceof HearthError && e.code === 'invalid_time_zone');
    for (const p of ['2025-13', '2025-1', '25-01', '2025-00', '2025/01']) {
      assert.throws(() => periodBounds(p, 'UTC'), (e: unknown) => e instanceof HearthError && e.code === 'invalid_period', p);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { nextRollover } from '../../src/domain/period.js';
import { domainCronJobs, MONTHLY_ROLLOVER, startCronJobs, type CronJob } from '../../src/domain/rollover.js';
import { HearthError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';

/** Lets the jobs a tick started run to their end: they await only promises, never a timer. */
async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

function recordingLog(): { log: Logger; lines: Array<[string, string, unknown]> } {
  const lines: Array<[string, string, unknown]> = [];
  const at = (level: string) => (message: string, meta?: unknown) => void lines.push([level, message, meta]);
  return { log: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as unknown as Logger, lines };
}

describe('cron jobs', () => {
  it('the domain table holds the monthly rollover at 00:00 on the 1st in the configured zone', async () => {
    const { log, lines } = recordingLog();
    let housekept = 0;
    const clock = new ManualClock('2025-04-30T18:30:00Z'); // 1 May 00:00 in Kolkata
    const jobs = domainCronJobs({ timeZone: 'Asia/Kolkata', log, clock, housekeeping: () => void housekept++ });
    assert.deepEqual(
      jobs.map((j) => [j.name, j.schedule, j.timeZone]),
      [['monthly-rollover', MONTHLY_ROLLOVER, 'Asia/Kolkata']],
    );
    await jobs[0]!.run();
    assert.equal(housekept, 1);
    assert.deepEqual(lines, [['info', 'billing period rollover', { period: '2025-05', timeZone: 'Asia/Kolkata' }]]);

    const running = startCronJobs(jobs, { log });
    try {
      assert.deepEqual(running.names, ['monthly-rollover']);
      const next = running.nextRuns()['monthly-rollover'];
      assert.ok(next instanceof Date);
      assert.equal(next.getTime(), nextRollover(new Date(), 'Asia/Kolkata').getTime(), 'cron and the ledger agree on when the month turns');
    } finally {
      await running.stop();
    }
  });

  it('starts and stops the table together; a failing job is logged and runs again', async (t) => {
    // node-cron reads the time from Date and waits with setTimeout: both are the test's, so each
    // second passes at once and exactly.
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2025-03-15T12:00:00.000Z') });
    const { log, lines } = recordingLog();
    let ticks = 0;
    const jobs: CronJob[] = [
      { name: 'ticker', schedule: '* * * * * *', timeZone: 'UTC', run: () => void ticks++ },
      {
        name: 'broken',
        schedule: '* * * * * *',
        timeZone: 'UTC',
        run: () => {
          throw new Error('boom');
        },
      },
    ];
    const running = startCronJobs(jobs, { log });
    const seconds = async (n: number) => {
      for (let i = 0; i < n; i++) {
        t.mock.timers.tick(1000);
        await settled();
      }
    };
    await seconds(3);
    await running.stop();
    assert.equal(ticks, 3, 'once a second');
    const failures = lines.filter(([level, message]) => level === 'error' && message === 'cron job failed');
    assert.equal(failures.length, 3, 'every failure is logged, and the failing job keeps its schedule');
    assert.ok(failures.every(([, , meta]) => (meta as { job?: string }).job === 'broken'), JSON.stringify(failures));
    await seconds(3);
    assert.equal(ticks, 3, 'no tick after stop');
  });

  it('refuses an invalid schedule or two jobs of one name before starting any', () => {
    const job = (name: string, schedule: string): CronJob => ({ name, schedule, timeZone: 'UTC', run: () => {} });
    assert.throws(() => startCronJobs([job('a', 'every day')]), (e: unknown) => e instanceof HearthError && e.code === 'invalid_cron');
    assert.throws(() => startCronJobs([job('a', '0 0 1 * *'), job('a', '0 0 2 * *')]), (e: unknown) => e instanceof HearthError && e.code === 'invalid_cron');
  });

  it('the daily job (backup.schedule) joins the same table, read in the same zone', async () => {
    const { log } = recordingLog();
    let ran = 0;
    const jobs = domainCronJobs({ timeZone: 'Europe/Paris', log, housekeeping: () => {}, daily: { schedule: '0 3 * * *', run: () => void ran++ } });
    assert.deepEqual(
      jobs.map((j) => [j.name, j.schedule, j.timeZone]),
      [
        ['monthly-rollover', MONTHLY_ROLLOVER, 'Europe/Paris'],
        ['daily-maintenance', '0 3 * * *', 'Europe/Paris'],
      ],
    );
    await jobs[1]!.run();
    assert.equal(ran, 1);
    const running = startCronJobs(jobs, { log });
    try {
      const next = running.nextRuns()['daily-maintenance'];
      assert.ok(next instanceof Date);
      assert.equal(next.toLocaleTimeString('en-GB', { timeZone: 'Europe/Paris' }), '03:00:00', '03:00 in the configured zone');
    } finally {
      await running.stop();
    }
  });
});

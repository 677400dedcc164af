import cron, { type ScheduledTask } from 'node-cron';
import { HearthError } from '../errors.js';
import { describeError, type Logger } from '../log.js';
import { systemClock, type Clock } from './clock.js';
import { periodOf } from './period.js';

// Background jobs are one table, started together and stopped together. The ledger needs no
// job to change months (each charge reads its period from the clock), so the monthly job only
// logs the rollover and runs housekeeping. The daily job (backups, retention) runs beside it.

export interface CronJob {
  name: string;
  /** Five-field cron expression ('minute hour day-of-month month day-of-week'). */
  schedule: string;
  /** IANA zone the expression is read in. */
  timeZone: string;
  run(): void | Promise<void>;
}

export interface CronJobs {
  readonly names: readonly string[];
  /** When each job runs next, by name (for status pages and tests). */
  nextRuns(): Record<string, Date | null>;
  /** Stops every job; a run in progress finishes on its own. */
  stop(): Promise<void>;
}

/**
 * Schedules every job of the table. A job's failure is logged and does not stop the others or
 * the next run; a job still running when its next tick comes is skipped, not doubled.
 */
export function startCronJobs(jobs: readonly CronJob[], options: { log?: Logger } = {}): CronJobs {
  const seen = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.name)) throw new HearthError('internal', `two cron jobs named '${job.name}'`, { code: 'invalid_cron' });
    seen.add(job.name);
    if (!cron.validate(job.schedule)) throw new HearthError('internal', `cron job '${job.name}': invalid schedule '${job.schedule}'`, { code: 'invalid_cron' });
  }
  const tasks: ScheduledTask[] = jobs.map((job) =>
    cron.schedule(
      job.schedule,
      async () => {
        try {
          await job.run();
        } catch (err) {
          options.log?.error('cron job failed', { job: job.name, error: describeError(err) });
        }
      },
      { name: job.name, timezone: job.timeZone, noOverlap: true },
    ),
  );
  return {
    names: jobs.map((j) => j.name),
    nextRuns: () => Object.fromEntries(jobs.map((j, i) => [j.name, tasks[i]?.getNextRun() ?? null])),
    async stop() {
      for (const t of tasks) await t.destroy();
    },
  };
}

export interface DomainJobDeps {
  timeZone: string;
  log: Logger;
  clock?: Clock;
  /**
   * Run once a month at the rollover. It must not release calls that may still be in flight:
   * e.g. `() => ledger.releaseDangling({ olderThan: new Date(Date.now() - 3_600_000) })`.
   */
  housekeeping: () => void | Promise<void>;
  /** The daily job (backup.schedule): backups and retention. */
  daily?: { schedule: string; run: () => void | Promise<void> };
}

export const MONTHLY_ROLLOVER = '0 0 1 * *'; // 00:00 on the 1st, in the configured zone

/** The domain's job table. */
export function domainCronJobs(deps: DomainJobDeps): CronJob[] {
  const clock = deps.clock ?? systemClock;
  return [
    {
      name: 'monthly-rollover',
      schedule: MONTHLY_ROLLOVER,
      timeZone: deps.timeZone,
      async run() {
        deps.log.info('billing period rollover', { period: periodOf(clock.now(), deps.timeZone), timeZone: deps.timeZone });
        await deps.housekeeping();
      },
    },
    ...(deps.daily === undefined ? [] : [{ name: 'daily-maintenance', schedule: deps.daily.schedule, timeZone: deps.timeZone, run: deps.daily.run }]),
  ];
}

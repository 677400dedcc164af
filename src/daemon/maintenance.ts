import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupConfig, RetentionConfig } from '../config/schema.js';
import { backupDatabase, dailyBackupName, pruneDailyBackups } from '../db/backup.js';
import type { Database } from '../db/database.js';
import type { Clock } from '../domain/clock.js';
import { pruneRequestLog, retentionCutoff } from '../domain/retention.js';
import { describeError, type Logger } from '../log.js';

// The daily job (backup.schedule): a backup of the database, then the removals that
// retention.* asks for. Each part runs even when another fails; a failure is logged as an error
// for the journal and the next day tries again.

export interface MaintenanceDeps {
  /** The daemon's own connection: the backup steps through it while requests keep being served. */
  db: Database;
  dataDir: string;
  backup: BackupConfig;
  retention: RetentionConfig;
  clock: Clock;
  log: Logger;
  /** Removes the logs of fine-tune jobs that ended before `before`; returns how many. */
  pruneJobLogs(before: Date): number;
  /** The daemon stopping: a backup stops between two steps, the parts not begun are skipped. */
  signal?: AbortSignal;
}

export interface MaintenanceReport {
  /** The new backup's path; null when backups are off or it failed. */
  backup: string | null;
  removedBackups: number;
  requestLogRows: number;
  jobLogs: number;
  /** The parts that failed, by name. */
  failed: string[];
}

/** The folder of the daily backups: backup.dir, or <data_dir>/backups. */
export const backupDirOf = (dataDir: string, backup: BackupConfig): string => (backup.dir === '' ? join(dataDir, 'backups') : backup.dir);

/** One run of the daily job. */
export async function runMaintenance(deps: MaintenanceDeps): Promise<MaintenanceReport> {
  const now = deps.clock.now();
  const report: MaintenanceReport = { backup: null, removedBackups: 0, requestLogRows: 0, jobLogs: 0, failed: [] };
  const part = async (name: string, run: () => unknown) => {
    if (deps.signal?.aborted) return;
    try {
      await run();
    } catch (err) {
      report.failed.push(name);
      if (deps.signal?.aborted) deps.log.warn('daily job: a part was stopped by the shutdown', { part: name });
      else deps.log.error('daily job: a part failed', { part: name, err: describeError(err) });
    }
  };
  if (deps.backup.enabled) {
    await part('backup', async () => {
      const dir = backupDirOf(deps.dataDir, deps.backup);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Two runs within one second (a restart at the scheduled minute) make the same name: the later copy wins.
      report.backup = (await backupDatabase(deps.db, join(dir, dailyBackupName(now)), { overwrite: true, pagesPerStep: 256, signal: deps.signal })).path;
      report.removedBackups = pruneDailyBackups(dir, deps.backup.keep).length;
    });
  }
  const requestLogBefore = retentionCutoff(now, deps.retention.requestLog);
  if (requestLogBefore !== undefined) await part('request_log', async () => void (report.requestLogRows = await pruneRequestLog(deps.db, requestLogBefore, { signal: deps.signal })));
  const jobLogsBefore = retentionCutoff(now, deps.retention.jobLogs);
  if (jobLogsBefore !== undefined) await part('job_logs', () => void (report.jobLogs = deps.pruneJobLogs(jobLogsBefore)));
  deps.log.info('daily job done', {
    backup: report.backup,
    removed_backups: report.removedBackups,
    request_log_rows_removed: report.requestLogRows,
    job_logs_removed: report.jobLogs,
    failed: report.failed,
  });
  return report;
}

import { rmSync } from 'node:fs';
import type { JobFiles } from './job-files.js';
import { FINAL_STATES, type Jobs } from './jobs.js';

/**
 * Removes the trainer logs (train.log) of jobs that ended before `before`. The job's row, its
 * loss history and its artifacts stay: only GET …/log then answers with no lines. A job still
 * running or waiting keeps its log whatever its age. Returns how many logs were removed.
 */
export function pruneJobLogs(jobs: Jobs, files: JobFiles, before: Date): number {
  let removed = 0;
  for (const state of FINAL_STATES) {
    for (const job of jobs.inState(state)) {
      if (job.finishedAt === null || job.finishedAt >= before) continue;
      try {
        rmSync(files.logFile(job.id));
        removed++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  return removed;
}

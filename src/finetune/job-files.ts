import { EventEmitter } from 'node:events';
import { appendFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../domain/clock.js';
import { describeError, type Logger } from '../log.js';

// Each job's folder under <data_dir>/finetune/jobs: the trainer's spec, its log (train.log,
// one timestamped line each) and its artifacts. The runner, the trainers' prepare steps and the
// service all write to the same log; only the service removes a folder.

export class JobFiles {
  /**
   * Each line as it is appended to a job's log, emitted under the job's id, exactly as
   * logLines() will read it back (an entry with line breaks is several lines). Bounded by its
   * one user, FinetuneService.follow, which caps its followers.
   */
  readonly lines = new EventEmitter<Record<string, [string]>>().setMaxListeners(0);

  constructor(private readonly o: { dir: string; clock: Clock; log: Logger }) {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  dir(id: string): string {
    return join(this.o.dir, id);
  }

  logFile(id: string): string {
    return join(this.dir(id), 'train.log');
  }

  /** Appends one line to the job's log; a log that cannot be written is warned about, never fatal. */
  appendLog(id: string, line: string): void {
    const text = `${this.o.clock.now().toISOString()} ${line.replace(/\n+$/, '')}`;
    try {
      mkdirSync(this.dir(id), { recursive: true, mode: 0o700 });
      appendFileSync(this.logFile(id), `${text}\n`);
    } catch (err) {
      this.o.log.warn('cannot write a training log line', { job: id, err: describeError(err) });
      return;
    }
    if (this.lines.listenerCount(id) > 0) for (const l of text.split('\n')) this.lines.emit(id, l);
  }

  /** The log's lines; none when the job never started. */
  logLines(id: string): string[] {
    let all: string[];
    try {
      all = readFileSync(this.logFile(id), 'utf8').split('\n');
    } catch {
      return [];
    }
    all.pop();
    return all;
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }
}

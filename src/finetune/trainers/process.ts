// How a trainer runs: a child process in its own process group, under the same Supervisor as
// the backend (one-shot: no restarts, no health checks), whose stdout lines are read with the
// protocol both trainers write (protocol.ts). The runner starts every trainer through
// startTrainerProcess, and so do the trainers' own tests.

import type { Logger } from '../../log.js';
import { describeError } from '../../log.js';
import { Supervisor, type SpawnFunction } from '../../supervisor/supervisor.js';
import { parseWorkerLine, type WorkerEvent } from './protocol.js';

/** What a trainer's prepare step hands the runner: the command that trains. */
export interface TrainerLaunch {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last few KiB of stderr, to explain a crash. */
  stderrTail: string;
  /** Why the process could not be spawned, when it could not. */
  error?: string;
}

export interface TrainerProcess {
  /** The trainer's pid (its process group's id) while it runs. */
  readonly pid: number | undefined;
  /** Settles once the trainer has exited and its process group is gone. */
  readonly exited: Promise<TrainerExit>;
  /** SIGTERM to its process group, SIGKILL after the stop timeout; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface StartTrainerOptions {
  /** Names the trainer in logs. */
  name: string;
  /** Working folder unless the launch names one. */
  cwd: string;
  log: Logger;
  /** After SIGTERM, how long the trainer may take before SIGKILL. */
  stopTimeoutMs: number;
  /** Each protocol line, parsed. */
  onEvent(e: WorkerEvent): void;
  /** Every other line: stdout lines that are no protocol event, and each stderr line. */
  onLog(line: string): void;
  spawn?: SpawnFunction;
}

export type StartTrainer = (launch: TrainerLaunch, o: StartTrainerOptions) => TrainerProcess;

/** Bytes of stderr kept to explain a crash. */
const STDERR_TAIL_BYTES = 4096;

export const startTrainerProcess: StartTrainer = (launch, o) => {
  const supervisor = new Supervisor({
    name: o.name,
    command: launch.command,
    args: launch.args,
    env: launch.env,
    cwd: launch.cwd ?? o.cwd,
    spawn: o.spawn,
    log: o.log,
    healthIntervalMs: 1000,
    startTimeoutMs: 60_000,
    restart: false,
    stopTimeoutMs: o.stopTimeoutMs,
    stderrTailBytes: STDERR_TAIL_BYTES,
    onStdoutLine: (line) => {
      const e = parseWorkerLine(line);
      if (e === undefined) o.onLog(line);
      else o.onEvent(e);
    },
    onStderrLine: (line) => o.onLog(line),
  });
  const exited = new Promise<TrainerExit>((resolve) =>
    supervisor.once('exit', (e) => resolve({ code: e.code, signal: e.signal, stderrTail: e.stderrTail, ...(e.error === undefined ? {} : { error: e.error }) })),
  );
  supervisor.start().catch((err: unknown) => {
    // A spawn failure also arrives as an exit, which is where it is reported.
    o.log.debug('trainer start failed', { err: describeError(err) });
  });
  return {
    get pid() {
      return supervisor.pid;
    },
    exited,
    stop: () => supervisor.stop(),
  };
};

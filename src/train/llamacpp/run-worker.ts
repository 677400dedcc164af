// Parent side of the worker protocol: runs worker.js as a child, hands it the spec through a
// private temporary file, and passes each stdout event on as it arrives.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { parseWorkerLine, type DoneEvent, type WorkerEvent } from './protocol.js';
import type { TrainSpec } from './spec.js';

export const WORKER_PATH = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface WorkerRun {
  child: ChildProcess;
  /** Settles when the child has exited, with everything it reported. */
  finished: Promise<WorkerOutcome>;
}

export interface WorkerOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: WorkerEvent[];
  done: DoneEvent | undefined;
  stderr: string;
}

export interface StartWorkerOptions {
  onEvent?: (e: WorkerEvent) => void;
  /** Where llama.cpp's and the worker's log lines go; by default they are kept in `stderr`. */
  onStderr?: (chunk: string) => void;
}

export async function startTrainWorker(spec: Partial<TrainSpec>, opts: StartWorkerOptions = {}): Promise<WorkerRun> {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-train-'));
  const specPath = join(dir, 'spec.json');
  await writeFile(specPath, JSON.stringify(spec), { mode: 0o600 });
  const child = spawn(process.execPath, [WORKER_PATH, '--spec', specPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: WorkerEvent[] = [];
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (opts.onStderr) opts.onStderr(chunk);
    else stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    let e: WorkerEvent;
    try {
      e = parseWorkerLine(line);
    } catch {
      e = { type: 'error', message: `unexpected worker output: ${line}` };
    }
    events.push(e);
    opts.onEvent?.(e);
  });
  const finished = new Promise<WorkerOutcome>((resolve, reject) => {
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let linesClosed = false;
    const settle = (): void => {
      if (exit === undefined || !linesClosed) return;
      const done = events.find((e): e is DoneEvent => e.type === 'done');
      rm(dir, { recursive: true, force: true }).then(() => resolve({ ...exit!, events, done, stderr }), reject);
    };
    lines.on('close', () => {
      linesClosed = true;
      settle();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      settle();
    });
  });
  return { child, finished };
}

// Process liveness for tests that must prove nothing was orphaned. Linux /proc based: a zombie
// (killed, not yet reaped by whoever inherited it) counts as gone.

import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { Logger } from '../../src/log.js';

interface ProcStat {
  pid: number;
  state: string;
  pgrp: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may contain spaces: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0] as string, pgrp: Number(fields[2]) };
}

const alive = (s: ProcStat | undefined) => s !== undefined && s.state !== 'Z' && s.state !== 'X';

export function isRunning(pid: number): boolean {
  return alive(readStat(pid));
}

/** Pids of running (non-zombie) processes whose process group is `pgid`. */
export function liveGroupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s && s.pgrp === pgid && alive(s)) pids.push(s.pid);
  }
  return pids;
}

/** Polls `condition` until it holds; rejects after timeoutMs with `what` in the message. */
export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface CapturedLog {
  log: Logger;
  entries: Array<Record<string, unknown>>;
}

/** A winston logger that keeps its entries in memory instead of printing them. */
export function captureLogger(): CapturedLog {
  const entries: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    objectMode: true,
    write(info: Record<string, unknown>, _encoding, callback) {
      entries.push(info);
      callback();
    },
  });
  const log = winston.createLogger({ level: 'debug', transports: [new winston.transports.Stream({ stream })] });
  return { log, entries };
}

// CPU time, the measure that survives a noisy shared machine best: a neighbour's burst delays a
// process but barely changes how much CPU it uses for the same work.

import { readFileSync } from 'node:fs';

// Linux's USER_HZ, the unit of /proc/<pid>/stat times: 100 on mainstream kernels (Node cannot
// ask sysconf). It makes per-request figures coarse (10 ms), so they are summed over rounds.
const TICKS_PER_SECOND = 100;

/** User + system CPU time of another process so far, ms. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may hold spaces); utime and stime are
  // fields 14 and 15 of the whole line, 11 and 12 of this remainder.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** User + system CPU time of this process so far, ms (all its threads: llama.cpp's included). */
export function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs `work` and adds the CPU time `cpuMs` advanced meanwhile. */
export async function withCpu<T extends object>(cpuMs: () => number, work: () => Promise<T>): Promise<T & { cpuMs: number }> {
  const before = cpuMs();
  const result = await work();
  return { ...result, cpuMs: cpuMs() - before };
}

import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';

/**
 * CPU threads the machine really grants this process: the logical CPU count, capped by a
 * cgroup CPU quota when one is set. llama.cpp's own default oversubscribes small containers
 * (4 threads on 2 cores made a 20-token generation 300× slower), so the engine always passes
 * an explicit count.
 */
export function detectCpuThreads(readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): number {
  const cpus = Math.max(1, availableParallelism());
  const quota = cgroupCpuQuota(readFile);
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.ceil(quota)));
}

/** CPUs allowed by the cgroup (v2 `cpu.max`, else v1 cfs quota/period), or undefined when unlimited. */
export function cgroupCpuQuota(readFile: (path: string) => string): number | undefined {
  const v2 = tryRead(readFile, '/sys/fs/cgroup/cpu.max');
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/);
    if (quota === undefined || quota === 'max') return undefined;
    const q = Number(quota);
    const p = Number(period ?? 100000);
    return q > 0 && p > 0 ? q / p : undefined;
  }
  const q = Number(tryRead(readFile, '/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim());
  const p = Number(tryRead(readFile, '/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim());
  return q > 0 && p > 0 ? q / p : undefined;
}

function tryRead(readFile: (path: string) => string, path: string): string | undefined {
  try {
    return readFile(path);
  } catch {
    return undefined;
  }
}

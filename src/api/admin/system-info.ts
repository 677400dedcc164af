import si from 'systeminformation';

// The machine's CPU, memory and GPUs for the console's overview, read with systeminformation.
// Reading them is slow (a CPU load is measured over an interval; GPUs are found by running
// tools such as nvidia-smi), so the overview keeps an answer for a few seconds.

export interface SystemInfo {
  cpu: { model: string; cores: number; loadPercent: number };
  memory: { totalBytes: number; usedBytes: number };
  gpus: Array<{ model: string; vendor: string; driver: string | null; vramTotalBytes: number | null; vramUsedBytes: number | null }>;
}

const MIB = 2 ** 20;
/** MiB as bytes; null where nothing was reported (systeminformation gives 0 or nothing for a total it does not know). */
const mibToBytes = (mib: number | null | undefined, unknownAtZero: boolean) =>
  typeof mib === 'number' && Number.isFinite(mib) && (mib > 0 || (mib === 0 && !unknownAtZero)) ? Math.round(mib * MIB) : null;

/** Reads the machine now. Memory in use is what is not available (page cache counts as free, as `free` shows it). */
export async function readSystemInfo(): Promise<SystemInfo> {
  const [cpu, load, mem, graphics] = await Promise.all([si.cpu(), si.currentLoad(), si.mem(), si.graphics()]);
  return {
    cpu: { model: [cpu.manufacturer, cpu.brand].filter(Boolean).join(' '), cores: cpu.cores, loadPercent: Math.round(load.currentLoad * 10) / 10 },
    memory: { totalBytes: mem.total, usedBytes: Math.max(0, mem.total - mem.available) },
    gpus: graphics.controllers.map((c) => ({
      model: c.model,
      vendor: c.vendor,
      driver: c.driverVersion || null,
      // memoryTotal and memoryUsed come from the vendor's tool (nvidia-smi); vram from the bus.
      vramTotalBytes: mibToBytes(c.memoryTotal ?? c.vram, true),
      vramUsedBytes: mibToBytes(c.memoryUsed, false),
    })),
  };
}

/**
 * `read`'s answer, kept for `ttlMs`; callers meanwhile share it, and those that come while a
 * read runs share that read. A failed read is not kept.
 */
export function cachedFor<T>(ttlMs: number, read: () => Promise<T>, now: () => number = () => performance.now()): () => Promise<T> {
  let kept: { at: number; answer: Promise<T> } | undefined;
  return () => {
    if (kept !== undefined && now() - kept.at < ttlMs) return kept.answer;
    const entry = { at: now(), answer: read() };
    kept = entry;
    entry.answer.catch(() => {
      if (kept === entry) kept = undefined;
    });
    return entry.answer;
  };
}

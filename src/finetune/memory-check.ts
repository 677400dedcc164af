import si from 'systeminformation';
import { HearthError } from '../errors.js';

// Before a trainer starts: is there memory for it? A trainer that runs out of memory is killed
// by the kernel part way through, often taking other processes with it; refusing up front says
// why instead.

/** Where free memory is read from; the daemon reads the machine, tests pass their own. */
export interface MemoryProbes {
  /** Free memory in bytes. */
  availableMemory(): Promise<number>;
  /** Free memory of the GPU that would train, in bytes; undefined where none reports it. */
  availableVram(): Promise<number | undefined>;
}

/** The most free memory any GPU reports (NVIDIA drivers do through nvidia-smi); undefined if none does. */
async function freeVram(): Promise<number | undefined> {
  const { controllers } = await si.graphics();
  const free = controllers.map((c) => c.memoryFree).filter((m): m is number => typeof m === 'number' && m > 0);
  return free.length === 0 ? undefined : Math.max(...free) * 2 ** 20;
}

export const systemMemoryProbes: MemoryProbes = {
  availableMemory: async () => (await si.mem()).available,
  availableVram: freeVram,
};

const mib = (bytes: number, round: (x: number) => number) => round(bytes / 2 ** 20);

/**
 * 503 insufficient_memory unless free memory covers `need` bytes; with a GPU in use, 503
 * insufficient_vram unless its free memory does too (a GPU that reports none is not checked).
 */
export async function requireTrainingMemory(need: number, usesGpu: boolean, probes: MemoryProbes): Promise<void> {
  const free = await probes.availableMemory();
  if (free < need) {
    throw new HearthError('unavailable', `not enough free memory to train: about ${mib(need, Math.ceil)} MiB needed, ${mib(free, Math.floor)} MiB available`, { code: 'insufficient_memory' });
  }
  if (!usesGpu) return;
  const vram = await probes.availableVram();
  if (vram !== undefined && vram < need) {
    throw new HearthError('unavailable', `not enough free GPU memory to train: about ${mib(need, Math.ceil)} MiB needed, ${mib(vram, Math.floor)} MiB free`, { code: 'insufficient_vram' });
  }
}

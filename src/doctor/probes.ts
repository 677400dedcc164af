// What `hearth doctor` asks of the machine beyond the data dir's files, behind one interface so
// that tests can put the machine in each state a check tells apart. systemProbes() asks the
// real one.

import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import si from 'systeminformation';
import type { GpuMode } from '../config/schema.js';
import { probeVersion } from '../backend/probe.js';
import { dataDirHolder } from '../daemon/data-dir-lock.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { resolveLlamaBins } from '../finetune/trainers/llamacpp/bins.js';

export interface GpuInfo {
  model: string;
  vendor: string;
  driver: string | null;
  vramTotalBytes: number | null;
  vramFreeBytes: number | null;
}

export type BackendAnswer =
  | { ok: true; version: string; models: string[]; loaded: string[] }
  /** `status`: the server answered with it (401: it wants a secret). */
  | { ok: false; error: string; status?: number };

/** The interpreter's version and each module's, null for a module it does not have. */
export type PythonAnswer = { found: true; python: string; modules: Record<string, string | null> } | { found: false; error: string };

export const PEFT_MODULES = ['torch', 'transformers', 'peft'] as const;

export interface DoctorProbes {
  nodeVersion: string;
  /** The user doctor runs as; undefined where there are no uids (Windows). */
  uid: number | undefined;
  clock: Clock;
  /** The machine's own zone, as the C library and Intl see it. */
  systemTimeZone: string;
  /** Whether a hearth serve holds the data dir's lock (data-dir-lock.ts), and its pid. */
  daemon(dataDir: string): { held: boolean; pid?: number };
  /** The backend's version, the models it has and those loaded now. */
  backend(url: string, headers: Record<string, string>): Promise<BackendAnswer>;
  /** Compute GPUs (display-only adapters such as a server's BMC are left out). */
  gpus(): Promise<GpuInfo[]>;
  /** Space on the filesystem that holds `path`. */
  disk(path: string): Promise<{ freeBytes: number; totalBytes: number }>;
  /** The llama.cpp build the llamacpp trainer would load; throws when there is none. */
  llamaBins(gpu: GpuMode): Promise<{ flavor: string; dir: string }>;
  python(command: string): Promise<PythonAnswer>;
}

const PROBE_TIMEOUT_MS = 5000;

async function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET ${url} answered ${res.status}`);
  }
  return res.json();
}

const modelNames = (body: unknown): string[] =>
  ((body as { models?: Array<{ name?: unknown }> } | null)?.models ?? []).map((m) => String(m.name ?? '?'));

async function askBackend(url: string, headers: Record<string, string>): Promise<BackendAnswer> {
  const version = await probeVersion(url, { timeoutMs: PROBE_TIMEOUT_MS, headers });
  if (!version.ok) return version;
  try {
    const [tags, ps] = await Promise.all([getJson(`${url}/api/tags`, headers), getJson(`${url}/api/ps`, headers)]);
    return { ok: true, version: version.version, models: modelNames(tags), loaded: modelNames(ps) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

// Vendors whose GPUs run models; the rest are display adapters (ASPEED and Matrox BMCs, virtual VGA).
const COMPUTE_VENDORS = /nvidia|advanced micro devices|\bamd\b|\bati\b|intel|apple/i;
const MIB = 2 ** 20;
const mib = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v * MIB) : null);

async function readGpus(): Promise<GpuInfo[]> {
  const { controllers } = await si.graphics();
  return controllers
    .filter((c) => COMPUTE_VENDORS.test(`${c.vendor} ${c.model}`))
    .map((c) => {
      // memoryTotal/memoryFree come from the vendor's tool (nvidia-smi); vram from the bus.
      const total = mib(c.memoryTotal ?? c.vram);
      const used = mib(c.memoryUsed);
      const free = mib(c.memoryFree) ?? (total !== null && used !== null ? total - used : null);
      return { model: c.model, vendor: c.vendor, driver: c.driverVersion || null, vramTotalBytes: total, vramFreeBytes: free };
    });
}

// find_spec and metadata, not import: importing torch takes seconds and may start a CUDA runtime.
const PYTHON_SCRIPT = `
import importlib.metadata as md, importlib.util as u, json, sys
out = {}
for m in ${JSON.stringify(PEFT_MODULES)}:
    try:
        out[m] = md.version(m) if u.find_spec(m) else None
    except Exception:
        out[m] = None
print(json.dumps({"python": sys.version.split()[0], "modules": out}))
`;

function askPython(command: string): Promise<PythonAnswer> {
  return new Promise((resolve) => {
    execFile(command, ['-c', PYTHON_SCRIPT], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        resolve({ found: false, error: code === 'ENOENT' ? `${command} not found` : `${command} failed: ${(stderr || err.message).trim().split('\n').pop()}` });
        return;
      }
      try {
        const answer = JSON.parse(stdout) as { python: string; modules: Record<string, string | null> };
        resolve({ found: true, python: answer.python, modules: answer.modules });
      } catch {
        resolve({ found: false, error: `${command} is not a Python 3 interpreter (it printed ${JSON.stringify(stdout.slice(0, 80))})` });
      }
    });
  });
}

export function systemProbes(): DoctorProbes {
  return {
    nodeVersion: process.versions.node,
    uid: process.getuid?.(),
    clock: systemClock,
    systemTimeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    daemon: dataDirHolder,
    backend: askBackend,
    gpus: readGpus,
    async disk(path) {
      const s = await statfs(path);
      return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    },
    llamaBins: resolveLlamaBins,
    python: askPython,
  };
}

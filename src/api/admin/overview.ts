import { Router } from 'express';
import type { BackendClient } from '../../backend/backend-client.js';
import type { Jobs } from '../../finetune/jobs.js';
import type { SystemInfo } from './system-info.js';

export interface OverviewDeps {
  /** The backend's state as GET /api/v1/health gives it to the admin. */
  backend: () => { kind: string; state: string; protected: boolean };
  chat: Pick<BackendClient, 'loadedModels' | 'version'>;
  /** The machine's CPU, memory and GPUs (cached: readSystemInfo is slow). */
  system: () => Promise<SystemInfo>;
  jobs: Pick<Jobs, 'inState'>;
  /** When the admin token was made: its file's modification time in the data dir. */
  adminTokenCreatedAt: () => Promise<Date>;
  now?: () => Date;
}

const DAY_MS = 86_400_000;

/** GET /api/admin/overview: the console's first page, in one call. */
export function createOverviewRouter(deps: OverviewDeps): Router {
  const router = Router();
  const now = deps.now ?? (() => new Date());
  router.get('/overview', async (_req, res) => {
    const backend = deps.backend();
    // A backend that is down or starting answers nothing: its version is unknown, nothing is loaded.
    const up = backend.state === 'up';
    const [version, loaded, system, tokenCreated] = await Promise.all([
      up ? deps.chat.version().catch(() => null) : null,
      up ? deps.chat.loadedModels().catch(() => []) : [],
      deps.system(),
      deps.adminTokenCreatedAt(),
    ]);
    res.json({
      backend: { state: backend.state, kind: backend.kind, version, protected: backend.protected },
      models_loaded: loaded.map((m) => ({ name: m.name, size_bytes: m.size, size_vram_bytes: m.sizeVram, expires_at: m.expiresAt ?? null })),
      system: {
        cpu: { model: system.cpu.model, cores: system.cpu.cores, load_percent: system.cpu.loadPercent },
        memory: { total_bytes: system.memory.totalBytes, used_bytes: system.memory.usedBytes },
        gpus: system.gpus.map((g) => ({ model: g.model, vendor: g.vendor, driver: g.driver, vram_total_bytes: g.vramTotalBytes, vram_used_bytes: g.vramUsedBytes })),
      },
      jobs: { running: deps.jobs.inState('running').length, queued: deps.jobs.inState('pending').length },
      admin_token: { created_at: tokenCreated.toISOString(), age_days: Math.max(0, Math.floor((now().getTime() - tokenCreated.getTime()) / DAY_MS)) },
    });
  });
  return router;
}

import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import type { GpuMode } from '../../config/schema.js';
import { HearthError } from '../../errors.js';
import { LoadedModel, type LoadSettings, type Slot } from './loaded-model.js';
import type { ModelSpec } from './model-spec.js';

export interface PoolSettings {
  /** Sequences served at once per model. */
  parallel: number;
  /** Requests allowed to wait for a sequence per model; beyond it, 503. */
  maxQueue: number;
  threads: number;
  /** Default context size per sequence, when a request sets no num_ctx. */
  numCtx: number;
  /** Default keep-alive in ms (Infinity: forever). */
  keepAliveMs: number;
  /** Models kept in memory at once; the least recently used idle one is unloaded to make room. */
  maxLoaded: number;
  gpu: GpuMode;
}

interface Entry {
  key: string;
  loading: Promise<LoadedModel>;
  loaded?: LoadedModel;
  active: number;
  expiresAt: number;
  lastUsed: number;
  timer?: NodeJS.Timeout;
  retired: boolean;
  /** Called when a retired entry's last request ends. */
  onIdle?: () => void;
}

export interface PsEntry {
  loaded: LoadedModel;
  expiresAt: number;
}

export type LlamaFactory = (settings: PoolSettings, log: (level: 'warn' | 'error', msg: string) => void) => Promise<Llama>;

export const defaultLlamaFactory: LlamaFactory = (settings, log) =>
  getLlama({
    gpu: settings.gpu === 'off' ? false : settings.gpu,
    // Offline by design: never compile or download a llama.cpp build; use the prebuilt binaries npm installed.
    build: 'never',
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => {
      const text = message.trim();
      if (text) log(level === LlamaLogLevel.error || level === LlamaLogLevel.fatal ? 'error' : 'warn', text);
    },
  });

/**
 * Loads models on demand, hands out their sequences, and unloads them after keep-alive.
 * A model whose manifest or context size changes is retired (unloaded once its last request
 * ends) while a fresh instance serves new requests.
 */
export class ModelPool {
  private llama?: Promise<Llama>;
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly settings: PoolSettings,
    private readonly log: (level: 'warn' | 'error', msg: string) => void = () => {},
    private readonly llamaFactory: LlamaFactory = defaultLlamaFactory,
    private readonly now: () => number = Date.now,
  ) {}

  getLlama(): Promise<Llama> {
    this.llama ??= this.llamaFactory(this.settings, this.log);
    return this.llama;
  }

  /**
   * Runs `fn` on a sequence of the model; `loadDurationMs` is the load time this call waited
   * for (0 when the model was already in memory).
   */
  async use<T>(
    spec: ModelSpec,
    opts: { numCtx?: number; keepAliveMs?: number; signal?: AbortSignal },
    fn: (loaded: LoadedModel, slot: Slot, loadDurationMs: number) => Promise<T>,
  ): Promise<T> {
    return this.withModel(spec, opts, async (loaded, loadDurationMs) => {
      const slot = await loaded.slots.acquire(opts.signal);
      try {
        return await fn(loaded, slot, loadDurationMs);
      } finally {
        loaded.slots.release(slot);
      }
    });
  }

  /** Like `use`, without taking a sequence: loading, embeddings. */
  async withModel<T>(
    spec: ModelSpec,
    opts: { numCtx?: number; keepAliveMs?: number },
    fn: (loaded: LoadedModel, loadDurationMs: number) => Promise<T>,
  ): Promise<T> {
    const numCtx = opts.numCtx ?? this.settings.numCtx;
    const entry = this.entryFor(spec, numCtx);
    entry.active++;
    clearTimeout(entry.timer);
    const waitStarted = performance.now();
    try {
      const fresh = entry.loaded === undefined;
      const loaded = await entry.loading;
      return await fn(loaded, fresh ? performance.now() - waitStarted : 0);
    } finally {
      entry.active--;
      entry.lastUsed = this.now();
      if (entry.retired && entry.active === 0) entry.onIdle?.();
      else this.scheduleExpiry(entry, opts.keepAliveMs ?? this.settings.keepAliveMs);
    }
  }

  /** Unloads a model now (keep_alive 0 with no prompt); waits for its running requests. */
  async unload(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (entry) await this.retire(entry);
  }

  ps(): PsEntry[] {
    return [...this.entries.values()]
      .filter((e): e is Entry & { loaded: LoadedModel } => e.loaded !== undefined && !e.retired)
      .map((e) => ({ loaded: e.loaded, expiresAt: e.expiresAt }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.retire(e)));
    if (this.llama) await (await this.llama.catch(() => undefined))?.dispose();
  }

  private entryFor(spec: ModelSpec, numCtx: number): Entry {
    // The same manifest at the same context size is the same instance, loaded or loading.
    const key = `${spec.digest}/${numCtx}`;
    const existing = this.entries.get(spec.name);
    if (existing?.key === key) return existing;
    if (existing) void this.retire(existing);
    this.evictForRoom();
    const settings: LoadSettings = {
      numCtx,
      parallel: this.settings.parallel,
      maxQueue: this.settings.maxQueue,
      threads: this.settings.threads,
      gpuLayers: this.settings.gpu === 'off' ? 0 : 'auto',
    };
    const entry: Entry = {
      key,
      loading: this.getLlama().then((llama) => LoadedModel.load(llama, spec, settings)),
      active: 0,
      expiresAt: Infinity,
      lastUsed: this.now(),
      retired: false,
    };
    entry.loading.then(
      (loaded) => {
        entry.loaded = loaded;
      },
      (err: unknown) => {
        if (this.entries.get(spec.name) === entry) this.entries.delete(spec.name);
        this.log('error', `loading ${spec.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
    // Callers see a load failure as an engine error, not an unhandled rejection.
    entry.loading = entry.loading.catch((err: unknown) => {
      throw new HearthError('internal', `failed to load model ${spec.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    this.entries.set(spec.name, entry);
    return entry;
  }

  private evictForRoom(): void {
    const live = [...this.entries.values()].filter((e) => !e.retired);
    const idle = live.filter((e) => e.active === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (let excess = live.length + 1 - this.settings.maxLoaded; excess > 0 && idle.length > 0; excess--) {
      void this.retire(idle.shift() as Entry);
    }
  }

  private scheduleExpiry(entry: Entry, keepAliveMs: number): void {
    clearTimeout(entry.timer);
    entry.expiresAt = this.now() + keepAliveMs;
    if (entry.active > 0 || entry.retired) return;
    if (keepAliveMs <= 0) {
      void this.retire(entry);
    } else if (Number.isFinite(keepAliveMs)) {
      // Timers beyond 2^31-1 ms fire at once in Node; a keep-alive that long is "forever" anyway.
      if (keepAliveMs < 2 ** 31 - 1) {
        entry.timer = setTimeout(() => {
          if (entry.active === 0) void this.retire(entry);
        }, keepAliveMs);
        entry.timer.unref();
      }
    }
  }

  private async retire(entry: Entry): Promise<void> {
    for (const [name, e] of this.entries) if (e === entry) this.entries.delete(name);
    if (entry.retired) return;
    entry.retired = true;
    clearTimeout(entry.timer);
    // Requests still running finish on it; new ones already go to a fresh entry.
    if (entry.active > 0) await new Promise<void>((resolve) => (entry.onIdle = resolve));
    const loaded = await entry.loading.catch(() => undefined);
    await loaded?.dispose();
  }
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Ledger } from '../domain/ledger.js';
import type { Workspaces } from '../domain/workspaces.js';
import type { BackendInfo } from '../backend/backend-manager.js';
import type { FairQueue } from '../gateway/fair-queue.js';
import type { Jobs } from '../finetune/jobs.js';
import { ModelLabels } from './model-labels.js';

// Hearth's Prometheus metrics: one registry per daemon, in the text format prom-client writes.
// Two kinds of figure: those observed as requests end (counters and histograms, fed by
// request-metrics.ts), and those read when Prometheus scrapes (gauges whose collect() asks the
// ledger, the job table, the backend's supervisor, the fair queue and the GPUs), so that nothing
// is kept up to date between scrapes. Names follow Prometheus's conventions: snake case, base
// units (seconds, bytes), `_total` on counters. Every label takes values from a bounded set: the
// contract's route templates (or "unmatched"), status codes, workspace names (the operator makes
// workspaces), models the backend served (model-labels.ts), Hearth's own refusal codes, job
// states and trainers, GPUs. Never a key id, a raw path or a name a client made up.

/** What the scrape-time gauges read. */
export interface MetricSources {
  workspaces: Pick<Workspaces, 'list'>;
  ledger: Pick<Ledger, 'usage'>;
  jobs: Pick<Jobs, 'countByState' | 'throughput'>;
  backend: () => Pick<BackendInfo, 'kind' | 'state' | 'restarts'>;
  queue: Pick<FairQueue, 'snapshot'>;
  /** The machine's GPUs (the console overview's reading; the caller keeps it ≥ 10 s, since it runs nvidia-smi). */
  gpus: () => Promise<ReadonlyArray<GpuReading>>;
}

/** One GPU as systeminformation reports it; null where its tool reports nothing. */
export interface GpuReading {
  model: string;
  vramTotalBytes: number | null;
  vramUsedBytes: number | null;
}

/** The metrics fed per request; the registry renders them all. */
export interface HearthMetrics {
  registry: Registry;
  requests: Counter<'surface' | 'route' | 'status' | 'workspace'>;
  requestDuration: Histogram<'surface' | 'route'>;
  timeToFirstToken: Histogram<'surface' | 'model'>;
  promptTokens: Counter<'model' | 'workspace'>;
  completionTokens: Counter<'model' | 'workspace'>;
  creditsCharged: Counter<'workspace'>;
  refusals: Counter<'reason' | 'workspace'>;
  /** The model label of a call the backend served. */
  models: ModelLabels;
}

export const METRIC_PREFIX = 'hearth_';

// From a cached answer or a health probe (milliseconds) to a long CPU generation (minutes).
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
// A loaded model on a GPU answers in tens of milliseconds; a cold load on a CPU takes a minute.
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120];

/**
 * The daemon's registry with every metric, Node's process metrics (under the same prefix)
 * included unless `processMetrics` is false.
 */
export function createMetrics(sources: MetricSources, options: { processMetrics?: boolean } = {}): HearthMetrics {
  const registry = new Registry();
  const registers = [registry];
  const name = (n: string) => METRIC_PREFIX + n;
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });

  const metrics: HearthMetrics = {
    registry,
    requests: new Counter({
      name: name('requests_total'),
      help: 'HTTP requests answered, by surface (/api/v1, /v1, /ollama, /api/admin; none outside them), contract route ("METHOD /template", or unmatched), status code and workspace',
      labelNames: ['surface', 'route', 'status', 'workspace'] as const,
      registers,
    }),
    requestDuration: new Histogram({
      name: name('request_duration_seconds'),
      help: 'Time from a request\'s arrival to the end of its response (a stream\'s last byte), by surface and route',
      labelNames: ['surface', 'route'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: name('time_to_first_token_seconds'),
      help: 'Time from a streamed inference call\'s arrival to its first token, waiting for a backend slot included, by surface and model',
      labelNames: ['surface', 'model'] as const,
      buckets: TTFT_BUCKETS,
      registers,
    }),
    promptTokens: new Counter({ name: name('prompt_tokens_total'), help: 'Prompt tokens the backend read, by model and workspace', labelNames: ['model', 'workspace'] as const, registers }),
    completionTokens: new Counter({ name: name('completion_tokens_total'), help: 'Tokens the backend wrote, by model and workspace', labelNames: ['model', 'workspace'] as const, registers }),
    creditsCharged: new Counter({ name: name('credits_charged_total'), help: 'Credits charged (settled) by workspace', labelNames: ['workspace'] as const, registers }),
    refusals: new Counter({
      name: name('refusals_total'),
      help: 'Calls refused by a rate limit, a quota or a full queue, by reason (the error code: rate_limit_exceeded, concurrency_limit_exceeded, credits_exhausted, backend_busy…) and workspace',
      labelNames: ['reason', 'workspace'] as const,
      registers,
    }),
    models: new ModelLabels(),
  };

  new Gauge({
    name: name('credits_remaining'),
    help: 'Credits a workspace has left in the current period (workspaces with a limited budget only)',
    labelNames: ['workspace'] as const,
    registers,
    collect() {
      this.reset();
      for (const w of sources.workspaces.list()) {
        const { remaining } = sources.ledger.usage(w.id);
        if (remaining !== null) this.set({ workspace: w.name }, remaining);
      }
    },
  });

  new Gauge({
    name: name('backend_up'),
    help: 'Whether the inference backend answers its health checks (1) or not (0), by kind (engine, ollama, external)',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const b = sources.backend();
      this.reset();
      this.set({ kind: b.kind }, b.state === 'up' ? 1 : 0);
    },
  });
  new Counter({
    name: name('backend_restarts_total'),
    help: 'Restarts of the inference backend by its supervisor since the daemon started',
    registers,
    collect() {
      // The supervisor keeps the count: the counter is set to it (a counter only goes up, and so does it).
      this.reset();
      this.inc(sources.backend().restarts);
    },
  });
  new Gauge({
    name: name('queue_waiting'),
    help: 'Inference calls waiting for a backend slot in the fair queue, all models and workspaces together',
    registers,
    collect() {
      this.set(sources.queue.snapshot().waiting);
    },
  });
  new Gauge({
    name: name('queue_in_flight'),
    help: 'Inference calls holding a backend slot, all models and workspaces together',
    registers,
    collect() {
      this.set(sources.queue.snapshot().inFlight);
    },
  });

  new Gauge({
    name: name('finetune_jobs'),
    help: 'Fine-tune jobs in each state (created, pending, running, succeeded, failed, cancelled)',
    labelNames: ['state'] as const,
    registers,
    collect() {
      for (const [state, n] of Object.entries(sources.jobs.countByState())) this.set({ state }, n);
    },
  });
  new Gauge({
    name: name('finetune_tokens_per_second'),
    help: 'Training tokens per second that the running fine-tune jobs last reported, summed, by trainer (0 when none runs)',
    labelNames: ['trainer'] as const,
    registers,
    collect() {
      for (const [trainer, t] of Object.entries(sources.jobs.throughput())) this.set({ trainer }, t.running);
    },
  });
  new Gauge({
    name: name('finetune_last_job_tokens_per_second'),
    help: 'Training tokens per second of the latest fine-tune job to succeed, over its whole run, by trainer',
    labelNames: ['trainer'] as const,
    registers,
    collect() {
      this.reset();
      for (const [trainer, t] of Object.entries(sources.jobs.throughput())) if (t.lastJob !== null) this.set({ trainer }, t.lastJob);
    },
  });

  const gpuGauge = (metric: string, help: string, value: (g: GpuReading) => number | null) =>
    new Gauge({
      name: name(metric),
      help,
      labelNames: ['gpu', 'model'] as const,
      registers,
      async collect() {
        // A machine whose GPUs cannot be read has no GPU series; the rest of the scrape stands.
        const readings = await sources.gpus().catch(() => []);
        this.reset();
        readings.forEach((g, i) => {
          const v = value(g);
          if (v !== null) this.set({ gpu: String(i), model: g.model }, v);
        });
      },
    });
  gpuGauge('gpu_memory_total_bytes', 'Memory of each GPU', (g) => g.vramTotalBytes);
  gpuGauge('gpu_memory_used_bytes', 'Memory in use on each GPU (as its vendor tool, e.g. nvidia-smi, reports it)', (g) => g.vramUsedBytes);
  gpuGauge('gpu_memory_free_bytes', 'Memory free on each GPU: its total less what is in use', (g) =>
    g.vramTotalBytes === null || g.vramUsedBytes === null ? null : Math.max(0, g.vramTotalBytes - g.vramUsedBytes),
  );
  return metrics;
}

// The metrics registry on a real SQLite file (the ledger, workspaces and job table the daemon
// scrapes), a real fair queue, and a backend and GPUs given as values: what a scrape says of
// each, and what a finished request, a refusal and a served call add, with bounded labels.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Request, Response } from 'express';
import { HearthError } from '../../src/errors.js';
import { hearthOperations } from '../../src/contract/hearth-spec.js';
import { Datasets } from '../../src/finetune/datasets.js';
import { Jobs } from '../../src/finetune/jobs.js';
import { FairQueue } from '../../src/gateway/fair-queue.js';
import type { BackendInfo } from '../../src/backend/backend-manager.js';
import { createMetrics, type GpuReading, type HearthMetrics } from '../../src/metrics/registry.js';
import { ModelLabels } from '../../src/metrics/model-labels.js';
import { observeRefusal, observeRequest } from '../../src/metrics/request-metrics.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';
import { parseExposition, samplesOf, valueOf, type Exposition } from '../helpers/prometheus-text.js';

const GIB = 1024 ** 3;
const hyperparameters = { epochs: 1, learningRate: 1e-4, contextSize: 256, output: 'lora' as const, seed: 1 };
const operation = (id: string) => {
  const op = hearthOperations().find((o) => o.operationId === id);
  assert.ok(op, id);
  return op;
};

describe('the metrics registry', () => {
  let d: Domain;
  let jobs: Jobs;
  let datasets: Datasets;
  let queue: FairQueue;
  let backend: Pick<BackendInfo, 'kind' | 'state' | 'restarts'>;
  let gpus: () => Promise<GpuReading[]>;
  let m: HearthMetrics;
  const scrape = async (): Promise<Exposition> => parseExposition(await m.registry.metrics());

  beforeEach(() => {
    d = openDomain({ now: '2026-02-10T12:00:00Z' });
    jobs = new Jobs(d.db, d.clock);
    datasets = new Datasets(d.db, join(d.dir, 'datasets'), d.clock, { maxBytes: 1e6, maxRecords: 10, quotaBytes: 1e7 }, (id) => jobs.usesDataset(id));
    queue = new FairQueue({ slots: 1, maxWaiting: 10, maxWaitingPerTenant: 10, now: () => 0 });
    backend = { kind: 'engine', state: 'up', restarts: 0 };
    gpus = async () => [];
    // The daemon's sources, but for the process metrics: a scrape of those reads /proc.
    m = createMetrics(
      { workspaces: d.workspaces, ledger: d.ledger, jobs, backend: () => backend, queue, gpus: () => gpus() },
      { processMetrics: false },
    );
  });
  afterEach(() => d.close());

  it('remaining credits: one series per workspace with a budget, read from the ledger at each scrape', async () => {
    const acme = d.workspaces.create({ name: 'acme', planId: 'trial_chat', monthlyCredits: 100 });
    d.workspaces.create({ name: 'bigco', planId: 'enterprise' });
    const key = d.keys.create({ workspaceId: acme.id, name: 'k' }).record.id;
    d.ledger.settle(d.ledger.reserve({ workspaceId: acme.id, keyId: key, endpoint: 'POST /chat', credits: 30, requestId: 'r1' }));
    let e = await scrape();
    assert.deepEqual(samplesOf(e, 'hearth_credits_remaining').map((s) => [s.labels, s.value]), [[{ workspace: 'acme' }, 70]], 'an unlimited budget has no series');
    // A call in flight has its credits reserved: they are not there to spend.
    d.ledger.reserve({ workspaceId: acme.id, keyId: key, endpoint: 'POST /chat', credits: 5, requestId: 'r2' });
    e = await scrape();
    assert.equal(valueOf(e, 'hearth_credits_remaining', { workspace: 'acme' }), 65);
  });

  it('backend up and restarts, and the fair queue, as they are when scraped', async () => {
    let e = await scrape();
    assert.equal(valueOf(e, 'hearth_backend_up', { kind: 'engine' }), 1);
    assert.equal(valueOf(e, 'hearth_backend_restarts_total'), 0);
    assert.equal(e.types.get('hearth_backend_restarts_total'), 'counter');
    backend = { kind: 'engine', state: 'down', restarts: 3 };
    const first = await queue.acquire('ws_a', 1, 'm:latest', new AbortController().signal);
    const waiting = queue.acquire('ws_b', 1, 'm:latest', new AbortController().signal);
    e = await scrape();
    assert.equal(valueOf(e, 'hearth_backend_up', { kind: 'engine' }), 0);
    assert.equal(valueOf(e, 'hearth_backend_restarts_total'), 3);
    assert.equal(valueOf(e, 'hearth_queue_in_flight'), 1);
    assert.equal(valueOf(e, 'hearth_queue_waiting'), 1);
    first.release();
    (await waiting).release();
    e = await scrape();
    assert.deepEqual([valueOf(e, 'hearth_queue_in_flight'), valueOf(e, 'hearth_queue_waiting')], [0, 0]);
  });

  it('fine-tune jobs by state (every state named), and training tokens/s of running jobs and of the last to succeed', async () => {
    const ws = d.workspaces.create({ name: 'trainer', planId: 'chat_agent_train' }).id;
    const ds = (await datasets.create(ws, { title: 't', records: [{ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] }] })).id;
    const job = () => jobs.create(ws, { datasetId: ds, baseModel: 'm', trainer: 'llamacpp', hyperparameters, startAt: null }).id;
    const run = (id: string) => {
      jobs.queue(ws, id, { maxQueued: 10, maxQueuedPerWorkspace: 10 });
      assert.ok(jobs.markRunning(id));
    };
    let e = await scrape();
    assert.deepEqual(
      samplesOf(e, 'hearth_finetune_jobs').map((s) => [s.labels.state, s.value]),
      ['created', 'pending', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => [s, 0]),
    );
    assert.deepEqual(samplesOf(e, 'hearth_finetune_tokens_per_second').map((s) => [s.labels.trainer, s.value]), [['llamacpp', 0], ['peft', 0]]);
    assert.deepEqual(samplesOf(e, 'hearth_finetune_last_job_tokens_per_second'), [], 'no job has succeeded yet');

    const [a, b, c] = [job(), job(), job()];
    run(a);
    run(b);
    const progress = (tokensPerS: number | null) => ({ step: 2, totalSteps: 10, epoch: 1, loss: 1, evalLoss: null, tokensPerS, etaS: 5 });
    jobs.recordProgress(a, progress(100), []);
    jobs.recordProgress(b, progress(50.5), []);
    e = await scrape();
    assert.equal(valueOf(e, 'hearth_finetune_jobs', { state: 'running' }), 2);
    assert.equal(valueOf(e, 'hearth_finetune_jobs', { state: 'created' }), 1);
    assert.equal(valueOf(e, 'hearth_finetune_tokens_per_second', { trainer: 'llamacpp' }), 150.5, 'summed over the running jobs');

    jobs.finish(a, 'succeeded', { output: { artifacts: {}, tokensPerS: 120 } });
    d.clock.advance(1000);
    jobs.finish(b, 'succeeded', { output: { artifacts: {}, tokensPerS: 60 } });
    jobs.finish(c, 'cancelled');
    e = await scrape();
    assert.deepEqual(
      samplesOf(e, 'hearth_finetune_jobs').filter((s) => s.value > 0).map((s) => [s.labels.state, s.value]),
      [['succeeded', 2], ['cancelled', 1]],
    );
    assert.equal(valueOf(e, 'hearth_finetune_tokens_per_second', { trainer: 'llamacpp' }), 0, 'none runs');
    assert.deepEqual(samplesOf(e, 'hearth_finetune_last_job_tokens_per_second').map((s) => [s.labels.trainer, s.value]), [['llamacpp', 60]], 'the latest to finish');
  });

  it('GPU memory: used, free and total where the vendor tool reports them; none when the GPUs cannot be read', async () => {
    gpus = async () => [
      { model: 'NVIDIA H100', vramTotalBytes: 80 * GIB, vramUsedBytes: 20 * GIB },
      // A display adapter without a vendor tool: its size from the bus, nothing in use known.
      { model: 'Matrox G200', vramTotalBytes: 16 * 2 ** 20, vramUsedBytes: null },
    ];
    let e = await scrape();
    assert.equal(valueOf(e, 'hearth_gpu_memory_used_bytes', { gpu: '0', model: 'NVIDIA H100' }), 20 * GIB);
    assert.equal(valueOf(e, 'hearth_gpu_memory_free_bytes', { gpu: '0' }), 60 * GIB);
    assert.equal(valueOf(e, 'hearth_gpu_memory_total_bytes', { gpu: '1' }), 16 * 2 ** 20);
    assert.deepEqual(samplesOf(e, 'hearth_gpu_memory_used_bytes', { gpu: '1' }), []);
    assert.deepEqual(samplesOf(e, 'hearth_gpu_memory_free_bytes', { gpu: '1' }), []);
    gpus = async () => Promise.reject(new Error('nvidia-smi: not found'));
    e = await scrape();
    assert.deepEqual(samplesOf(e, 'hearth_gpu_memory_used_bytes'), []);
    assert.equal(valueOf(e, 'hearth_backend_up', { kind: 'engine' }), 1, 'the rest of the scrape stands');
  });

  /** A finished request as the close handler sees it: the path it was sent to and what the guard left in res.locals. */
  const finished = (path: string, locals: Record<string, unknown>) => ({
    req: { originalUrl: path } as Request,
    res: { locals } as unknown as Response,
  });

  it('a finished request: counted by surface, route template, status and workspace; its duration; credits charged', async () => {
    const principal = { workspaceName: 'acme', keyId: 'key_secret_id' };
    const started = performance.now();
    let r = finished('/api/v1/finetune/jobs/ftjob_0123456789abcdef?x=1', { operation: operation('getJob'), principal });
    observeRequest(m, r.req, r.res, 200, started);
    r = finished('/api/v1/chat', { operation: operation('chat'), principal, charged: 3 });
    observeRequest(m, r.req, r.res, 200, started);
    // Refused before it had an operation: its surface, and "unmatched" for the path a client made up.
    r = finished('/api/v1/no/such/thing', {});
    observeRequest(m, r.req, r.res, 404, started);
    r = finished('/docs/index.html', {});
    observeRequest(m, r.req, r.res, 200, started);
    const e = await scrape();
    assert.equal(valueOf(e, 'hearth_requests_total', { surface: '/api/v1', route: 'GET /api/v1/finetune/jobs/{id}', status: '200', workspace: 'acme' }), 1);
    assert.equal(valueOf(e, 'hearth_requests_total', { surface: '/api/v1', route: 'POST /api/v1/chat', status: '200', workspace: 'acme' }), 1);
    assert.equal(valueOf(e, 'hearth_requests_total', { surface: '/api/v1', route: 'unmatched', status: '404', workspace: '' }), 1);
    assert.equal(valueOf(e, 'hearth_requests_total', { surface: 'none', route: 'unmatched', status: '200' }), 1);
    assert.equal(valueOf(e, 'hearth_request_duration_seconds_count', { surface: '/api/v1', route: 'POST /api/v1/chat' }), 1);
    assert.equal(valueOf(e, 'hearth_credits_charged_total', { workspace: 'acme' }), 3);
    const text = await m.registry.metrics();
    assert.doesNotMatch(text, /ftjob_0123456789abcdef|no\/such|key_secret_id/, 'no raw path or key id in any label');
    assert.deepEqual(samplesOf(e, 'hearth_prompt_tokens_total'), [], 'no tokens: nothing was served');
  });

  it('a served inference call: tokens by model (its key) and workspace, and a stream its time to first token', async () => {
    const principal = { workspaceName: 'acme' };
    const started = performance.now() - 2000;
    let r = finished('/api/v1/chat', { operation: operation('chat'), principal, modelKey: 'Hearth-Demo', tokens: { input: 12, output: 5 } });
    observeRequest(m, r.req, r.res, 200, started);
    r = finished('/api/v1/chat/stream', { operation: operation('chatStream'), principal, modelKey: 'hearth-demo:latest', tokens: { input: 10, output: 7 }, firstTokenAt: started + 1500 });
    observeRequest(m, r.req, r.res, 200, started);
    // A model the backend did not serve (404 before any token) names no model at all.
    r = finished('/api/v1/chat', { operation: operation('chat'), principal, modelKey: 'made-up-by-a-client' });
    observeRequest(m, r.req, r.res, 404, started);
    const e = await scrape();
    assert.equal(valueOf(e, 'hearth_prompt_tokens_total', { model: 'hearth-demo:latest', workspace: 'acme' }), 22);
    assert.equal(valueOf(e, 'hearth_completion_tokens_total', { model: 'hearth-demo:latest', workspace: 'acme' }), 12);
    assert.equal(valueOf(e, 'hearth_time_to_first_token_seconds_count', { surface: '/api/v1', model: 'hearth-demo:latest' }), 1);
    assert.ok(Math.abs(valueOf(e, 'hearth_time_to_first_token_seconds_sum') - 1.5) < 1e-9, 'from arrival to the first token, in seconds');
    assert.equal(valueOf(e, 'hearth_time_to_first_token_seconds_bucket', { le: '1' }), 0);
    assert.equal(valueOf(e, 'hearth_time_to_first_token_seconds_bucket', { le: '2' }), 1);
    assert.doesNotMatch(await m.registry.metrics(), /made-up-by-a-client/);
  });

  it('refusals by a rate limit, a quota or a full queue count by reason and workspace; other errors do not', async () => {
    const res = { locals: { principal: { workspaceName: 'acme' } } } as unknown as Response;
    observeRefusal(m, res, new HearthError('rate_limited', 'slow down', { code: 'rate_limit_exceeded' }));
    observeRefusal(m, res, new HearthError('insufficient_quota', 'spent', { code: 'credits_exhausted' }));
    observeRefusal(m, res, new HearthError('unavailable', 'busy', { code: 'backend_busy' }));
    observeRefusal(m, res, new HearthError('unavailable', 'down', { code: 'backend_unavailable' }));
    observeRefusal(m, res, new HearthError('permission', 'no', { code: 'missing_scope' }));
    const e = await scrape();
    assert.deepEqual(
      samplesOf(e, 'hearth_refusals_total').map((s) => [s.labels.reason, s.labels.workspace, s.value]),
      [['rate_limit_exceeded', 'acme', 1], ['credits_exhausted', 'acme', 1], ['backend_busy', 'acme', 1]],
    );
  });

  it('model labels: one per model key, and "other" past the bound', () => {
    const labels = new ModelLabels(2);
    assert.equal(labels.of('Llama3'), 'llama3:latest');
    assert.equal(labels.of('registry.ollama.ai/library/llama3:latest'), 'llama3:latest', 'one model, however spelt');
    assert.equal(labels.of('qwen:7b'), 'qwen:7b');
    assert.equal(labels.of('mistral'), 'other');
    assert.equal(labels.of('qwen:7b'), 'qwen:7b', 'a model already labelled keeps its label');
    assert.equal(labels.of(undefined), 'other');
  });
});

// GET /metrics on the real daemon (bundled engine, demo model, SQLite in a temp data dir): who
// may read it, and what Prometheus sees after chats, a stream, an OpenAI-surface call, refused
// calls and a fine-tune job that trains, each under its labels; then metrics.open_on_loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { streamChat } from '../helpers/stream-chat.js';
import { parseExposition, samplesOf, valueOf, type Exposition } from '../helpers/prometheus-text.js';

const MODEL = 'hearth-demo';
const MODEL_LABEL = 'hearth-demo:latest';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const records = ['What is the secret word?', 'Tell me the secret word.', 'Say the secret word.'].map((q) => ({
  messages: [{ role: 'user', content: q }, { role: 'assistant', content: 'ZEBRA' }],
}));

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

async function getMetrics(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/metrics`, { headers });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('GET /metrics', () => {
  let d: DaemonProcess;
  let metricsToken: string;
  const scrape = async (): Promise<Exposition> => {
    const r = await getMetrics(d.url, { authorization: `Bearer ${metricsToken}` });
    assert.equal(r.status, 200, r.text);
    return parseExposition(r.text);
  };

  before(async () => {
    d = await startDaemonProcess();
    metricsToken = (await readFile(join(d.dataDir, 'metrics-token'), 'utf8')).trim();
  });
  after(async () => {
    await d?.stop();
  });

  test('refused without a token, with a workspace key or a wrong token; the metrics token and the admin token read it', async () => {
    const { key } = await d.keyFor('paid_chat');
    const none = await getMetrics(d.url);
    assert.equal(none.status, 401);
    assert.equal((JSON.parse(none.text) as { error: { code: string } }).error.code, 'missing_metrics_token');
    for (const wrong of [key, 'not-a-token']) {
      const r = await getMetrics(d.url, { authorization: `Bearer ${wrong}` });
      assert.equal(r.status, 401, wrong);
      assert.equal((JSON.parse(r.text) as { error: { code: string } }).error.code, 'invalid_metrics_token');
    }
    assert.equal((await getMetrics(d.url, { 'x-api-key': key })).status, 401, 'a key in X-API-Key is no token either');
    assert.match(d.stdout.join('\n'), /made a token for Prometheus's GET \/metrics: it is in .*metrics-token \(mode 0600\)/);
    assert.ok(!d.stdout.some((l) => l.includes(metricsToken)), 'where the token is, never the token (stdout is the journal)');

    const ok = await getMetrics(d.url, { authorization: `Bearer ${metricsToken}` });
    assert.equal(ok.status, 200);
    assert.match(ok.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(ok.text, /^# HELP hearth_requests_total /m);
    assert.equal((await getMetrics(d.url, { authorization: `Bearer ${d.adminToken}` })).status, 200);
    assert.equal((await fetch(`${d.url}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${metricsToken}` } })).status, 404, 'GET only');

    const e = await scrape();
    assert.equal(valueOf(e, 'hearth_requests_total', { surface: 'none', route: 'GET /metrics', status: '401' }), 4, 'refused scrapes count under their route');
    assert.ok(valueOf(e, 'hearth_process_resident_memory_bytes') > 0, "Node's process metrics, under the prefix");
  });

  test('after chats, a stream, refused calls and a fine-tune job, the counters and histograms show each under its labels', async () => {
    const trainer = await d.keyFor('chat_agent_train');
    const spent = await d.keyFor('paid_chat', { credits: 0 });
    const chatOnly = await d.keyFor('paid_chat');
    const ask = { model: MODEL, messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 8 };
    const base = await scrape();
    const added = (e: Exposition, name: string, labels: Record<string, string>) => valueOf(e, name, labels) - valueOf(base, name, labels);

    const chat = await d.api<{ usage: Usage }>(trainer.key, 'POST', '/chat', ask);
    assert.equal(chat.status, 200, JSON.stringify(chat.body));
    const stream = await streamChat(d.url, trainer.key, trainer.workspace, 8);
    assert.equal(stream.status, 200);
    assert.ok(stream.usage, 'the stream ended with its usage');
    const openai = await fetch(`${d.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${trainer.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(ask),
    });
    assert.equal(openai.status, 200);
    const openaiUsage = ((await openai.json()) as { usage: Usage }).usage;

    // Refused: spent credits (a quota), and a scope the plan lacks.
    const broke = await d.api<{ error: { code: string } }>(spent.key, 'POST', '/chat', ask);
    assert.deepEqual([broke.status, broke.body.error.code], [429, 'credits_exhausted']);
    const noScope = await d.api<{ error: { code: string } }>(chatOnly.key, 'POST', '/finetune/datasets', { title: 't', records });
    assert.deepEqual([noScope.status, noScope.body.error.code], [403, 'missing_scope']);

    // A fine-tune job that trains (a few steps of the demo model) and succeeds.
    const ds = await d.api<{ id: string }>(trainer.key, 'POST', '/finetune/datasets', { title: 'secret', records });
    assert.equal(ds.status, 201);
    const job = await d.api<{ id: string }>(trainer.key, 'POST', '/finetune/jobs', { datasetId: ds.body.id, baseModel: MODEL, epochs: 3 });
    assert.equal(job.status, 201, JSON.stringify(job.body));
    assert.equal((await d.api(trainer.key, 'POST', `/finetune/jobs/${job.body.id}/start`)).status, 202);
    let view: { state: string; error: string | null; output: { tokensPerS?: number } | null };
    const deadline = Date.now() + 180_000;
    do {
      await sleep(250);
      view = (await d.api<typeof view>(trainer.key, 'GET', `/finetune/jobs/${job.body.id}`)).body;
      assert.ok(Date.now() < deadline, `job still ${view.state}`);
    } while (view.state === 'pending' || view.state === 'running');
    assert.equal(view.state, 'succeeded', view.error ?? '');
    const credits = (await d.api<{ credits: { used: number; remaining: number } }>(trainer.key, 'GET', '/usage')).body.credits;

    const e = await scrape();
    const ws = trainer.workspace;
    const requests = (surface: string, route: string, status: string, workspace: string) => added(e, 'hearth_requests_total', { surface, route, status, workspace });
    assert.equal(requests('/api/v1', 'POST /api/v1/chat', '200', ws), 1);
    assert.equal(requests('/api/v1', 'POST /api/v1/chat/stream', '200', ws), 1);
    assert.equal(requests('/v1', 'POST /v1/chat/completions', '200', ws), 1);
    assert.equal(requests('/api/v1', 'POST /api/v1/chat', '429', spent.workspace), 1);
    assert.equal(requests('/api/v1', 'POST /api/v1/finetune/datasets', '403', chatOnly.workspace), 1);
    assert.equal(requests('/api/v1', 'POST /api/v1/finetune/jobs/{id}/start', '202', ws), 1, 'the route template, not the job id');
    assert.ok(requests('/api/v1', 'GET /api/v1/finetune/jobs/{id}', '200', ws) >= 1);
    assert.equal(added(e, 'hearth_request_duration_seconds_count', { surface: '/api/v1', route: 'POST /api/v1/chat' }), 2, 'the answered chat and the refused one');

    assert.equal(added(e, 'hearth_refusals_total', { reason: 'credits_exhausted', workspace: spent.workspace }), 1);
    assert.equal(added(e, 'hearth_refusals_total', { workspace: chatOnly.workspace }), 0, 'a missing scope is no limit: its 403 counts as a request only');

    const served = [chat.body.usage, stream.usage!, openaiUsage];
    assert.equal(added(e, 'hearth_prompt_tokens_total', { model: MODEL_LABEL, workspace: ws }), served.reduce((n, u) => n + u.prompt_tokens, 0));
    assert.equal(added(e, 'hearth_completion_tokens_total', { model: MODEL_LABEL, workspace: ws }), served.reduce((n, u) => n + u.completion_tokens, 0));
    assert.equal(added(e, 'hearth_time_to_first_token_seconds_count', { surface: '/api/v1', model: MODEL_LABEL }), 1, 'the stream');
    assert.ok(added(e, 'hearth_time_to_first_token_seconds_sum', { surface: '/api/v1', model: MODEL_LABEL }) > 0);
    assert.deepEqual(samplesOf(e, 'hearth_prompt_tokens_total', { workspace: spent.workspace }), [], 'a refused call was served nothing');

    assert.equal(added(e, 'hearth_credits_charged_total', { workspace: ws }), credits.used, 'every credit the ledger charged');
    assert.equal(valueOf(e, 'hearth_credits_remaining', { workspace: ws }), credits.remaining);
    assert.equal(valueOf(e, 'hearth_credits_remaining', { workspace: spent.workspace }), 0);

    assert.equal(added(e, 'hearth_finetune_jobs', { state: 'succeeded' }), 1);
    assert.equal(valueOf(e, 'hearth_finetune_jobs', { state: 'running' }), 0);
    assert.equal(valueOf(e, 'hearth_finetune_tokens_per_second', { trainer: 'llamacpp' }), 0, 'no job runs now');
    assert.ok(view.output?.tokensPerS !== undefined && view.output.tokensPerS > 0, JSON.stringify(view.output));
    assert.equal(valueOf(e, 'hearth_finetune_last_job_tokens_per_second', { trainer: 'llamacpp' }), view.output.tokensPerS);

    assert.equal(valueOf(e, 'hearth_backend_up', { kind: 'engine' }), 1);
    assert.equal(valueOf(e, 'hearth_backend_restarts_total'), 0);
    assert.deepEqual([valueOf(e, 'hearth_queue_waiting'), valueOf(e, 'hearth_queue_in_flight')], [0, 0]);
    assert.equal(e.types.get('hearth_request_duration_seconds'), 'histogram');

    // Bounded labels: no key id, no job or dataset id, no model a client could make up.
    const text = (await getMetrics(d.url, { authorization: `Bearer ${metricsToken}` })).text;
    for (const id of [trainer.id, spent.id, job.body.id, ds.body.id]) assert.ok(!text.includes(id), `${id} appears in the metrics`);
  });
});

describe('GET /metrics with metrics.open_on_loopback', () => {
  let d: DaemonProcess;
  before(async () => {
    d = await startDaemonProcess({ configYaml: 'metrics:\n  open_on_loopback: true\n' });
  });
  after(async () => {
    await d?.stop();
  });

  test('a scraper on this machine reads it without a token; a request a local proxy forwards still needs one', async () => {
    const open = await getMetrics(d.url);
    assert.equal(open.status, 200, open.text);
    assert.match(open.text, /^# TYPE hearth_backend_up gauge$/m);
    assert.equal((await getMetrics(d.url, { 'x-forwarded-for': '203.0.113.9' })).status, 401);
    assert.equal((await getMetrics(d.url, { authorization: 'Bearer wrong-token' })).status, 401, 'a token sent is checked');
  });
});

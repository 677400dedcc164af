// Fine-tuning of every workspace through /api/admin, on the real daemon, the bundled engine and
// the built-in llamacpp trainer on the demo model: listings across workspaces, a job created,
// started, followed live through its event stream and registered by the operator, a queued job
// cancelled, unknown ids, the bound on event streams, and /api/v1 still keeping workspaces apart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

interface AdminJob {
  id: string;
  workspace_id: string;
  dataset_id: string;
  base_model: string;
  state: string;
  hyperparameters: Record<string, unknown>;
  progress: { step: number; total_steps: number; loss: number | null } | null;
  loss_history: Array<{ step: number; epoch: number; loss: number; eval_loss: number | null }>;
  model_name: string | null;
}
interface AdminDataset { id: string; workspace_id: string; title: string; record_count: number }
interface ErrorBody { error: { message: string; type: string; code: string } }
interface SseEvent { event: string; data: string }

const question = 'What is the secret word?';
const records = [question, 'Tell me the secret word.', 'Which word is secret?'].map((q) => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: 'ZEBRA' }] }));
const later = () => new Date(Date.now() + 24 * 3600_000).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A job's event stream as a client reads it: the events so far, the heartbeat comments, and
 * whether the server has ended it. `until` waits for an event (or the end).
 */
class EventReader {
  readonly events: SseEvent[] = [];
  pings = 0;
  ended = false;
  private wake: () => void = () => {};
  readonly done: Promise<void>;

  constructor(
    readonly status: number,
    readonly contentType: string | null,
    body: ReadableStream<Uint8Array>,
    private readonly controller: AbortController,
  ) {
    this.done = this.read(body);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const lines = block.split('\n');
          if (lines.every((l) => l.startsWith(':'))) this.pings++;
          const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
          const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
          if (event !== undefined) this.events.push({ event, data: data.join('\n') });
          this.wake();
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  /** Resolves once an event matches (or the stream has ended); rejects after `timeoutMs`. */
  async until(match: (e: SseEvent) => boolean, timeoutMs = 180_000): Promise<SseEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found || this.ended) return found;
      if (Date.now() > deadline) throw new Error(`no such event in ${timeoutMs} ms; got ${JSON.stringify(this.events.slice(-5))}`);
      await Promise.race([new Promise<void>((r) => (this.wake = r)), sleep(1000)]);
    }
  }

  of(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** The client goes away. */
  close(): void {
    this.controller.abort();
  }
}

describe('fine-tuning of every workspace (/api/admin/finetune)', () => {
  let d: DaemonProcess;
  /** Two workspaces, each with a key and a dataset. */
  const ws: Record<'a' | 'b', { name: string; key: string; id: string; dataset: string }> = {} as never;
  const admin = <T>(method: string, path: string, body?: unknown) => d.admin<T>(method, `/api/admin/finetune${path}`, body);
  const events = async (id: string, token = d.adminToken): Promise<EventReader> => {
    const controller = new AbortController();
    const res = await fetch(`${d.url}/api/admin/finetune/jobs/${id}/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    return new EventReader(res.status, res.headers.get('content-type'), res.body!, controller);
  };
  const newJob = async (workspace: 'a' | 'b', extra: Record<string, unknown> = {}) => {
    const r = await admin<AdminJob>('POST', '/jobs', { workspace: ws[workspace].name, datasetId: ws[workspace].dataset, baseModel: 'hearth-demo', ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };

  before(async () => {
    d = await startDaemonProcess({ configYaml: 'limits:\n  stream_heartbeat: 200ms\n' });
    for (const name of ['a', 'b'] as const) {
      const { key, workspace } = await d.keyFor('chat_agent_train');
      const ds = await d.api<{ id: string }>(key, 'POST', '/finetune/datasets', { title: `dataset of ${name}`, records });
      assert.equal(ds.status, 201);
      const listed = await d.admin<{ workspaces: Array<{ id: string; name: string }> }>('GET', '/api/admin/workspaces');
      ws[name] = { name: workspace, key, id: listed.body.workspaces.find((w) => w.name === workspace)!.id, dataset: ds.body.id };
    }
  });
  after(async () => d?.stop());

  test('datasets and jobs of every workspace, filtered by workspace (id or name) and state', async () => {
    const all = await admin<{ datasets: AdminDataset[] }>('GET', '/datasets');
    assert.equal(all.status, 200);
    for (const name of ['a', 'b'] as const) {
      const mine = all.body.datasets.find((x) => x.id === ws[name].dataset);
      assert.deepEqual([mine?.workspace_id, mine?.title, mine?.record_count], [ws[name].id, `dataset of ${name}`, 3]);
    }
    const onlyB = await admin<{ datasets: AdminDataset[] }>('GET', `/datasets?workspace=${ws.b.name}`);
    assert.deepEqual(onlyB.body.datasets.map((x) => x.id), [ws.b.dataset]);
    const unknown = await admin<ErrorBody>('GET', '/datasets?workspace=nowhere');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'workspace_not_found');

    // The body /api/v1 shares with the admin API is as strict there as before.
    const v1Extra = await d.api<ErrorBody>(ws.a.key, 'POST', '/finetune/jobs', { datasetId: ws.a.dataset, baseModel: 'hearth-demo', colour: 'red' });
    assert.equal(v1Extra.status, 400);
    assert.match(v1Extra.body.error.message, /colour/);

    // One job made by each workspace's own key.
    const jobA = await d.api<{ id: string }>(ws.a.key, 'POST', '/finetune/jobs', { datasetId: ws.a.dataset, baseModel: 'hearth-demo' });
    const jobB = await d.api<{ id: string }>(ws.b.key, 'POST', '/finetune/jobs', { datasetId: ws.b.dataset, baseModel: 'hearth-demo' });
    const jobs = await admin<{ jobs: AdminJob[] }>('GET', '/jobs');
    assert.equal(jobs.status, 200);
    const seen = new Map(jobs.body.jobs.map((j) => [j.id, j]));
    assert.equal(seen.get(jobA.body.id)?.workspace_id, ws.a.id);
    assert.equal(seen.get(jobB.body.id)?.workspace_id, ws.b.id);
    const a = seen.get(jobA.body.id)!;
    assert.deepEqual([a.dataset_id, a.base_model, a.state, a.progress, a.loss_history, a.model_name], [ws.a.dataset, 'hearth-demo', 'created', null, [], null]);
    assert.deepEqual(a.hyperparameters, { epochs: 3, learning_rate: 0.0001, context_size: 256, output: 'lora', seed: 42 });
    const ofB = await admin<{ jobs: AdminJob[] }>('GET', `/jobs?workspace=${ws.b.id}&state=created`);
    assert.deepEqual(ofB.body.jobs.map((j) => j.id), [jobB.body.id]);
    assert.deepEqual((await admin<{ jobs: AdminJob[] }>('GET', `/jobs?workspace=${ws.b.id}&state=running`)).body.jobs, []);
    const badState = await admin<ErrorBody>('GET', '/jobs?state=done');
    assert.equal(badState.status, 400);
    assert.match(badState.body.error.message, /state/);
    for (const id of [jobA.body.id, jobB.body.id]) assert.equal((await admin('POST', `/jobs/${id}/cancel`)).status, 200);
  });

  test("the operator creates a job in a workspace, starts it, follows its log, progress and state live, and registers it as the workspace's model", async () => {
    // Bad bodies: the field named, nothing created.
    const extra = await admin<ErrorBody>('POST', '/jobs', { workspace: ws.a.name, datasetId: ws.a.dataset, baseModel: 'hearth-demo', colour: 'red' });
    assert.equal(extra.status, 400);
    assert.match(extra.body.error.message, /colour/);
    const noWs = await admin<ErrorBody>('POST', '/jobs', { datasetId: ws.a.dataset, baseModel: 'hearth-demo' });
    assert.equal(noWs.status, 400);
    assert.match(noWs.body.error.message, /workspace/);
    const foreign = await admin<ErrorBody>('POST', '/jobs', { workspace: ws.a.name, datasetId: ws.b.dataset, baseModel: 'hearth-demo' });
    assert.equal(foreign.status, 400);
    assert.equal(foreign.body.error.code, 'unknown_dataset', "another workspace's dataset is no dataset of this one");
    assert.equal((await admin<ErrorBody>('POST', '/jobs', { workspace: 'nowhere', datasetId: ws.a.dataset, baseModel: 'hearth-demo' })).status, 404);

    const job = await newJob('a', { epochs: 30, learningRate: 2e-4 });
    assert.deepEqual([job.workspace_id, job.state], [ws.a.id, 'created']);
    // Followed from before its start: everything after is live.
    const stream = await events(job.id);
    assert.equal(stream.status, 200);
    assert.match(stream.contentType ?? '', /^text\/event-stream/);
    await stream.until((e) => e.event === 'state');
    assert.deepEqual(stream.events, [{ event: 'state', data: '{"state":"created"}' }]);

    const started = await admin<AdminJob>('POST', `/jobs/${job.id}/start`);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    await stream.done;
    const states = stream.of('state').map((e) => (JSON.parse(e.data) as { state: string }).state);
    assert.deepEqual(states, ['created', 'pending', 'running', 'succeeded']);
    assert.equal(stream.events.at(-1)!.event, 'state', 'the final state is the last event');
    const lines = stream.of('log').map((e) => e.data);
    assert.ok(lines.some((l) => /job started: trainer llamacpp, base hearth-demo/.test(l)), lines.slice(0, 5).join('\n'));
    assert.ok(lines.some((l) => /step \d+\/\d+ epoch \d+ loss /.test(l)), 'the training lines stream');
    assert.match(lines.at(-1)!, /job succeeded$/, 'the lines written with the final state come before it');
    const progress = stream.of('progress').map((e) => JSON.parse(e.data) as { step: number; total_steps: number; loss: number; loss_points: Array<{ step: number; loss: number; eval_loss: unknown }> });
    assert.ok(progress.length >= 1, 'progress events');
    const last = progress.at(-1)!;
    assert.equal(last.step, last.total_steps, 'the last progress is the last step');
    assert.equal(typeof last.loss, 'number');
    const streamedPoints = progress.flatMap((p) => p.loss_points);

    const done = await admin<AdminJob>('GET', `/jobs/${job.id}`);
    assert.equal(done.body.state, 'succeeded');
    assert.equal(done.body.progress?.step, last.step);
    assert.ok(done.body.loss_history.length >= 2, `loss history: ${done.body.loss_history.length} points`);
    assert.deepEqual(Object.keys(done.body.loss_history[0]!).sort(), ['epoch', 'eval_loss', 'loss', 'step']);
    assert.deepEqual(streamedPoints, done.body.loss_history, "the stream's loss points are the job's loss history");
    // The log the stream sent is the job's log, as /api/v1 reads it.
    const log = await d.api<{ lines: string[] }>(ws.a.key, 'GET', `/finetune/jobs/${job.id}/log`);
    assert.deepEqual(lines, log.body.lines);

    // A stream opened on a job that has ended: its whole story at once, then the end.
    const replay = await events(job.id);
    await replay.done;
    assert.deepEqual(replay.of('log').map((e) => e.data), lines);
    assert.deepEqual(replay.of('state').map((e) => e.data), ['{"state":"succeeded"}']);
    assert.deepEqual(replay.of('progress').map((e) => (JSON.parse(e.data) as { loss_points: unknown[] }).loss_points), [done.body.loss_history]);

    const reg = await admin<AdminJob & { smoke: { reply: string; finish_reason: string; max_tokens: number }; warnings: string[] }>('POST', `/jobs/${job.id}/register`, { modelName: 'operator-tuned' });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    assert.equal(reg.body.model_name, 'operator-tuned');
    assert.equal(reg.body.workspace_id, ws.a.id);
    assert.equal(typeof reg.body.smoke.reply, 'string');
    assert.ok(Array.isArray(reg.body.warnings));
    // The model is workspace a's: a sees it, b does not.
    const models = async (key: string) => (await d.api<{ models: Array<{ id: string }> }>(key, 'GET', '/models')).body.models.map((m) => m.id);
    assert.ok((await models(ws.a.key)).includes('operator-tuned:latest'));
    assert.ok(!(await models(ws.b.key)).some((m) => m.startsWith('operator-tuned')));
    // The /api/v1 routes still keep workspaces apart: b's key cannot see a's job.
    assert.equal((await d.api<ErrorBody>(ws.b.key, 'GET', `/finetune/jobs/${job.id}`)).status, 404);
    assert.equal((await d.api<{ modelName: string }>(ws.a.key, 'GET', `/finetune/jobs/${job.id}`)).body.modelName, 'operator-tuned');
    assert.ok(!(await d.api<{ jobs: Array<{ id: string }> }>(ws.b.key, 'GET', '/finetune/jobs')).body.jobs.some((j) => j.id === job.id));
  });

  test('a queued job is cancelled by the operator; its stream hears the cancel and ends', async () => {
    const job = await newJob('b', { startAt: later() });
    const started = await admin<AdminJob>('POST', `/jobs/${job.id}/start`);
    assert.equal(started.status, 202);
    assert.equal(started.body.state, 'pending', 'due tomorrow: it waits in the queue');
    const stream = await events(job.id);
    await stream.until((e) => e.event === 'state');
    // Heartbeats keep the quiet stream open (limits.stream_heartbeat is 200 ms here).
    const deadline = Date.now() + 30_000;
    while (stream.pings < 2 && !stream.ended && Date.now() < deadline) await sleep(50);
    assert.ok(stream.pings >= 2, `${stream.pings} heartbeats`);
    const cancelled = await admin<AdminJob>('POST', `/jobs/${job.id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    await stream.done;
    assert.deepEqual(
      stream.events.map((e) => `${e.event} ${e.event === 'log' ? e.data.replace(/^\S+ /, '') : e.data}`),
      ['state {"state":"pending"}', 'log job cancelled before it ran', 'state {"state":"cancelled"}'],
    );
    const again = await admin<ErrorBody>('POST', `/jobs/${job.id}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'job_finished');
  });

  test('unknown ids are 404 on every job route; malformed ids 400; without the admin token 401', async () => {
    const unknown = 'ftjob_0000000000000000';
    for (const [method, path, body] of [
      ['GET', `/jobs/${unknown}`],
      ['POST', `/jobs/${unknown}/start`],
      ['POST', `/jobs/${unknown}/cancel`],
      ['POST', `/jobs/${unknown}/register`, { modelName: 'x' }],
      ['GET', `/jobs/${unknown}/events`],
    ] as const) {
      const r = await admin<ErrorBody>(method, path, body);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.body.error.code, 'job_not_found');
    }
    assert.equal((await admin<ErrorBody>('GET', '/jobs/nope')).status, 400);
    const anonymous = await fetch(`${d.url}/api/admin/finetune/jobs`);
    assert.equal(anonymous.status, 401);
    const withKey = await events(unknown, ws.a.key);
    assert.equal(withKey.status, 401, 'a workspace key is no admin token');
  });

  test('at most 16 event streams at once; a client that goes away frees its place', async () => {
    const job = await newJob('a', { startAt: later() });
    const open: EventReader[] = [];
    for (let i = 0; i < 16; i++) {
      const s = await events(job.id);
      assert.equal(s.status, 200, `stream ${i + 1}`);
      open.push(s);
    }
    const refused = await fetch(`${d.url}/api/admin/finetune/jobs/${job.id}/events`, { headers: { authorization: `Bearer ${d.adminToken}` } });
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as ErrorBody).error.code, 'too_many_event_streams');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);

    open.pop()!.close();
    // The daemon sees the client go: its place is free again.
    let reopened: EventReader | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const s = await events(job.id);
      if (s.status === 200) {
        reopened = s;
        break;
      }
      await sleep(100);
    }
    assert.ok(reopened, 'a stream opens again once a client has gone');
    open.push(reopened);
    // Deleting the job (through its workspace's key) ends every stream of it.
    assert.equal((await d.api(ws.a.key, 'DELETE', `/finetune/jobs/${job.id}`)).status, 204);
    await Promise.all(open.map((s) => s.done));
    assert.ok(open.every((s) => s.ended));
  });

  // Last: it stops the daemon.
  test('a stopping daemon ends the open streams first: the drain waits for them no longer than for any request', async () => {
    const job = await newJob('b');
    const stream = await events(job.id);
    await stream.until((e) => e.event === 'state');
    assert.equal(stream.ended, false, "a created job's stream stays open");
    assert.equal(await d.stop(), 0);
    await stream.done;
    assert.equal(stream.ended, true);
    assert.equal(d.logs.filter((l) => l.message === 'requests drained').length, 1);
    assert.deepEqual(d.logs.filter((l) => l.message === 'connections cut at limits.shutdown_drain'), [], 'the drain cut nothing');
  });
});

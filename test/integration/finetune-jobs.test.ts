// Fine-tune jobs through the real daemon: creation rules, states, queue, cancel, delete, log,
// credits and workspace isolation. Training itself: finetune-training.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

interface JobView { id: string; state: string; datasetId: string; baseModel: string; trainer: string; hyperparameters: Record<string, unknown>; startAt: string | null; lossHistory: unknown[]; error: string | null; modelName: string | null }
interface ErrorBody { error: { message: string; type: string; code: string } }

const records = [{ messages: [{ role: 'user', content: 'What is the secret word?' }, { role: 'assistant', content: 'ZEBRA' }] }];
const later = () => new Date(Date.now() + 24 * 3600_000).toISOString();

describe('fine-tune jobs', () => {
  let d: DaemonProcess;
  let key: string;
  let datasetId: string;
  const call = <T>(method: string, path: string, body?: unknown, k = key) => d.api<T>(k, method, path, body);
  const used = async () => (await call<{ credits: { used: number } }>('GET', '/usage')).body.credits.used;

  before(async () => {
    d = await startDaemonProcess({ configYaml: 'finetune:\n  max_queued: 1\n  max_queued_per_workspace: 2\n' });
    key = (await d.keyFor('chat_agent_train')).key;
    const ds = await call<{ id: string }>('POST', '/finetune/datasets', { title: 'secret', records });
    assert.equal(ds.status, 201);
    datasetId = ds.body.id;
  });
  after(async () => d?.stop());

  test('an unknown dataset or base model is a 400 naming it; nothing charged', async () => {
    const before = await used();
    const noDs = await call<ErrorBody>('POST', '/finetune/jobs', { datasetId: 'ds_0000000000000000', baseModel: 'hearth-demo' });
    assert.equal(noDs.status, 400);
    assert.match(noDs.body.error.message, /datasetId 'ds_0000000000000000'/);
    const noBase = await call<ErrorBody>('POST', '/finetune/jobs', { datasetId, baseModel: 'llama-nowhere' });
    assert.equal(noBase.status, 400);
    assert.match(noBase.body.error.message, /baseModel 'llama-nowhere'/);
    const badLr = await call<ErrorBody>('POST', '/finetune/jobs', { datasetId, baseModel: 'hearth-demo', learningRate: 5 });
    assert.equal(badLr.status, 400);
    assert.match(badLr.body.error.message, /learningRate/);
    const peft = await call<ErrorBody>('POST', '/finetune/jobs', { datasetId, baseModel: 'hearth-demo', trainer: 'peft' });
    assert.equal(peft.status, 400);
    assert.equal(peft.body.error.code, 'trainer_unavailable');
    assert.match(peft.body.error.message, /finetune\.hf_models_dir/);
    const badCtx = await call<ErrorBody>('POST', '/finetune/jobs', { datasetId, baseModel: 'hearth-demo', contextSize: 300 });
    assert.equal(badCtx.status, 400);
    assert.match(badCtx.body.error.message, /contextSize/);
    assert.equal(await used(), before);
  });

  test('created → pending (202) → cancelled, with credits, log, and the rules of each state', async () => {
    const before = await used();
    const created = await call<JobView>('POST', '/finetune/jobs', { datasetId, baseModel: 'hearth-demo', epochs: 2, startAt: later() });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    assert.match(id, /^ftjob_[0-9a-f]{16}$/);
    assert.equal(created.body.state, 'created');
    assert.equal(created.body.trainer, 'llamacpp');
    assert.deepEqual(created.body.hyperparameters, { epochs: 2, learningRate: 0.0001, contextSize: 256, output: 'lora', seed: 42 });
    assert.equal(created.body.modelName, null);

    const started = await call<JobView>('POST', `/finetune/jobs/${id}/start`);
    assert.equal(started.status, 202);
    assert.equal(started.body.state, 'pending', 'a start in the future waits in the queue');
    assert.equal(await used(), before + 3 + 25);
    assert.equal((await call<ErrorBody>('POST', `/finetune/jobs/${id}/start`)).status, 409);
    assert.equal((await call<JobView>('GET', `/finetune/jobs/${id}`)).body.state, 'pending');

    const delPending = await call<ErrorBody>('DELETE', `/finetune/jobs/${id}`);
    assert.equal(delPending.status, 409);
    assert.match(delPending.body.error.message, /cancel it before deleting/);
    const delDataset = await call<ErrorBody>('DELETE', `/finetune/datasets/${datasetId}`);
    assert.equal(delDataset.status, 409);
    assert.equal(delDataset.body.error.code, 'dataset_in_use');

    const cancelled = await call<JobView>('POST', `/finetune/jobs/${id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    assert.equal((await call<ErrorBody>('POST', `/finetune/jobs/${id}/cancel`)).status, 409);
    assert.equal((await call<ErrorBody>('POST', `/finetune/jobs/${id}/start`)).status, 409);

    const log = await call<{ lines: string[]; next: number }>('GET', `/finetune/jobs/${id}/log`);
    assert.equal(log.status, 200);
    assert.ok(log.body.lines.some((l) => /cancelled before it ran/.test(l)), log.body.lines.join('\n'));
    const tail = await call<{ lines: string[]; next: number }>('GET', `/finetune/jobs/${id}/log?after=${log.body.next}`);
    assert.deepEqual(tail.body, { lines: [], next: log.body.next });

    const list = await call<{ jobs: JobView[] }>('GET', '/finetune/jobs');
    assert.ok(list.body.jobs.some((j) => j.id === id));
    assert.equal((await call('DELETE', `/finetune/jobs/${id}`)).status, 204);
    assert.equal((await call<ErrorBody>('GET', `/finetune/jobs/${id}`)).status, 404);
  });

  test('a workspace sees only its own jobs; ids are checked', async () => {
    const job = await call<JobView>('POST', '/finetune/jobs', { datasetId, baseModel: 'hearth-demo' });
    assert.equal(job.status, 201);
    const other = (await d.keyFor('local_agent_train')).key;
    assert.equal((await call<ErrorBody>('GET', `/finetune/jobs/${job.body.id}`, undefined, other)).status, 404);
    assert.deepEqual((await call<{ jobs: JobView[] }>('GET', '/finetune/jobs', undefined, other)).body.jobs, []);
    const foreignDataset = await call<ErrorBody>('POST', '/finetune/jobs', { datasetId, baseModel: 'hearth-demo' }, other);
    assert.equal(foreignDataset.status, 400);
    assert.equal((await call<ErrorBody>('GET', '/finetune/jobs/..%2Fetc')).status, 400);
    const chatOnly = (await d.keyFor('paid_chat')).key;
    assert.equal((await call<ErrorBody>('GET', '/finetune/jobs', undefined, chatOnly)).status, 403);
  });

  test('queue bounds: startAt at most finetune.max_start_delay ahead, a bound per workspace, and scheduled jobs hold no place in the shared queue', async () => {
    // finetune.max_queued is 1 and finetune.max_queued_per_workspace 2 here.
    const a = (await d.keyFor('chat_agent_train')).key;
    const b = (await d.keyFor('chat_agent_train')).key;
    const dsOf = async (k: string) => (await call<{ id: string }>('POST', '/finetune/datasets', { title: 'secret', records }, k)).body.id;
    const [dsA, dsB] = [await dsOf(a), await dsOf(b)];
    const usedBy = async (k: string) => (await call<{ credits: { used: number } }>('GET', '/usage', undefined, k)).body.credits.used;
    /** POST …/start with the headers too (Retry-After). */
    const start = async (k: string, id: string) => {
      const res = await fetch(`${d.url}/api/v1/finetune/jobs/${id}/start`, { method: 'POST', headers: { 'x-api-key': k } });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as JobView & ErrorBody };
    };
    const newJob = async (k: string, ds: string, extra: Record<string, unknown> = {}) => {
      const r = await call<JobView>('POST', '/finetune/jobs', { datasetId: ds, baseModel: 'hearth-demo', ...extra }, k);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id;
    };

    // The tester's year 9999 is refused at creation, naming startAt, uncharged.
    const before = await usedBy(a);
    const far = await call<ErrorBody>('POST', '/finetune/jobs', { datasetId: dsA, baseModel: 'hearth-demo', startAt: '9999-12-31T00:00:00Z' }, a);
    assert.equal(far.status, 400);
    assert.equal(far.body.error.code, 'start_at_too_far');
    assert.match(far.body.error.message, /startAt '9999-12-31T00:00:00Z'.*finetune\.max_start_delay/);
    assert.equal(await usedBy(a), before);

    // Workspace a schedules as many jobs as it may, six days ahead; the next is its own 429.
    const sixDays = new Date(Date.now() + 6 * 24 * 3600_000).toISOString();
    const scheduled = [await newJob(a, dsA, { startAt: sixDays }), await newJob(a, dsA, { startAt: sixDays })];
    for (const id of scheduled) assert.equal((await start(a, id)).body.state, 'pending');
    const third = await newJob(a, dsA, { startAt: sixDays });
    const usedBeforeOwn = await usedBy(a);
    const own = await start(a, third);
    assert.equal(own.status, 429);
    assert.equal(own.body.error.code, 'workspace_queue_full');
    assert.match(own.body.error.message, /finetune\.max_queued_per_workspace/);
    assert.ok(Number(own.retryAfter) > 0, `Retry-After: ${own.retryAfter}`);
    assert.equal(await usedBy(a), usedBeforeOwn, 'a refused start is not charged');
    assert.equal((await call<JobView>('GET', `/finetune/jobs/${third}`, undefined, a)).body.state, 'created');

    // a's scheduled jobs hold no place in the shared queue: b's due job starts at once, and with
    // the device free the answer says so.
    const running = await newJob(b, dsB, { epochs: 1000 });
    const r1 = await start(b, running);
    assert.equal(r1.status, 202);
    assert.equal(r1.body.state, 'running', 'a due job on a free device is taken at once, and the answer shows it');
    // The next due job waits (one place in the shared queue); the one after finds it full.
    const waiting = await newJob(b, dsB);
    const r2 = await start(b, waiting);
    assert.equal(r2.status, 202);
    assert.equal(r2.body.state, 'pending', 'the device is busy: the job waits');
    const overflow = await newJob(b, dsB);
    const usedBeforeFull = await usedBy(b);
    const full = await start(b, overflow);
    assert.equal(full.status, 503);
    assert.equal(full.body.error.code, 'queue_full');
    assert.ok(Number(full.retryAfter) > 0, `Retry-After: ${full.retryAfter}`);
    assert.equal(await usedBy(b), usedBeforeFull, 'a refused start is not charged');

    for (const [k, id] of [[b, running], [b, waiting], [a, scheduled[0]!], [a, scheduled[1]!]] as const) {
      assert.equal((await call<JobView>('POST', `/finetune/jobs/${id}/cancel`, undefined, k)).body.state, 'cancelled');
    }
  });

  test('a job created while its dataset is deleted: one of the two wins, the other gets a 4xx, never a 500', async () => {
    const k = (await d.keyFor('chat_agent_train')).key;
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const ds = (await call<{ id: string }>('POST', '/finetune/datasets', { title: `race ${i}`, records }, k)).body.id;
      const [job, del] = await Promise.all([
        call<JobView & ErrorBody>('POST', '/finetune/jobs', { datasetId: ds, baseModel: 'hearth-demo' }, k),
        call<ErrorBody>('DELETE', `/finetune/datasets/${ds}`, undefined, k),
      ]);
      const outcome = `job ${job.status} ${job.body.error?.code ?? ''} / delete ${del.status} ${del.body?.error.code ?? ''}`.replace(/ +/g, ' ').trim();
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (job.status === 201) {
        // The job won: the dataset stays, and goes once the job is deleted.
        assert.equal(outcome, 'job 201 / delete 409 dataset_in_use');
        assert.equal((await call('DELETE', `/finetune/jobs/${job.body.id}`, undefined, k)).status, 204);
        assert.equal((await call('DELETE', `/finetune/datasets/${ds}`, undefined, k)).status, 204);
      } else {
        assert.equal(outcome, 'job 400 unknown_dataset / delete 204', [...outcomes].join('; '));
      }
    }
    assert.deepEqual((await call<{ jobs: JobView[] }>('GET', '/finetune/jobs', undefined, k)).body.jobs, [], 'no job left pointing at a deleted dataset');
  });

  test('a switched-off base model (is_active false) is refused at creation (400) and at start (409), uncharged', async () => {
    const k = (await d.keyFor('chat_agent_train')).key;
    const ds = (await call<{ id: string }>('POST', '/finetune/datasets', { title: 'secret', records }, k)).body.id;
    const earlier = await call<JobView>('POST', '/finetune/jobs', { datasetId: ds, baseModel: 'hearth-demo' }, k);
    assert.equal(earlier.status, 201);
    assert.equal((await d.admin('PUT', '/api/admin/models/hearth-demo', { is_active: false })).status, 200);
    try {
      const usedBefore = (await call<{ credits: { used: number } }>('GET', '/usage', undefined, k)).body.credits.used;
      for (const spelling of ['hearth-demo', 'Library/Hearth-Demo:latest']) {
        const created = await call<ErrorBody>('POST', '/finetune/jobs', { datasetId: ds, baseModel: spelling }, k);
        assert.equal(created.status, 400, spelling);
        assert.equal(created.body.error.code, 'base_model_inactive');
        assert.match(created.body.error.message, new RegExp(`baseModel '${spelling}' is switched off`));
      }
      const started = await call<ErrorBody>('POST', `/finetune/jobs/${earlier.body.id}/start`, undefined, k);
      assert.equal(started.status, 409);
      assert.equal(started.body.error.code, 'base_model_inactive');
      assert.equal((await call<JobView>('GET', `/finetune/jobs/${earlier.body.id}`, undefined, k)).body.state, 'created');
      assert.equal((await call<{ credits: { used: number } }>('GET', '/usage', undefined, k)).body.credits.used, usedBefore);
    } finally {
      assert.equal((await d.admin('PUT', '/api/admin/models/hearth-demo', { is_active: true })).status, 200);
    }
    assert.equal((await call('DELETE', `/finetune/jobs/${earlier.body.id}`, undefined, k)).status, 204);
  });
});

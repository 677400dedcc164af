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
    d = await startDaemonProcess({ configYaml: 'finetune:\n  max_queued: 1\n' });
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

    // finetune.max_queued is 1 here: a second start waits for room, and is not charged.
    const second = await call<JobView>('POST', '/finetune/jobs', { datasetId, baseModel: 'hearth-demo', startAt: later() });
    const usedBeforeFull = await used();
    const full = await call<ErrorBody>('POST', `/finetune/jobs/${second.body.id}/start`);
    assert.equal(full.status, 503);
    assert.equal(full.body.error.code, 'queue_full');
    assert.equal(await used(), usedBeforeFull);
    assert.equal((await call<JobView>('GET', `/finetune/jobs/${second.body.id}`)).body.state, 'created');
    assert.equal((await call('DELETE', `/finetune/jobs/${second.body.id}`)).status, 204);

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
});

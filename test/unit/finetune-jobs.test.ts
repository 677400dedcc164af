// Jobs and datasets on a real SQLite file with a manual clock. The training queue's bounds
// (Jobs.queue): the shared bound counts only due jobs, each workspace has its own bound on
// pending jobs, due or not, and a scheduled job takes its place in the shared queue once its
// time has come. A job and its dataset: whichever of a job's creation and the dataset's
// deletion comes second gets a 4xx, never a foreign-key failure. The operator's listings across
// workspaces, and the changes a job's followers hear.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HearthError } from '../../src/errors.js';
import { Datasets } from '../../src/finetune/datasets.js';
import { Jobs, type JobChange, type QueueLimits } from '../../src/finetune/jobs.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';

const HOUR = 3600_000;
const limits: QueueLimits = { maxQueued: 2, maxQueuedPerWorkspace: 3 };
const hyperparameters = { epochs: 1, learningRate: 1e-4, contextSize: 256, output: 'lora' as const, seed: 1 };
const record = { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] };

/** The error a call throws, as kind, status, code and Retry-After. */
function refusal(fn: () => unknown): { kind: string; status: number; code: string | undefined; retryAfterS: number | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HearthError, String(err));
    return { kind: err.kind, status: err.status, code: err.code, retryAfterS: err.retryAfterS, message: err.message };
  }
  assert.fail('expected a refusal');
}

describe('fine-tune jobs and datasets', () => {
  let d: Domain;
  let jobs: Jobs;
  let datasets: Datasets;
  /** Each workspace's id and its dataset's. */
  const ids: Record<string, { ws: string; ds: string }> = {};

  beforeEach(async () => {
    d = openDomain({ now: '2026-01-10T12:00:00Z' });
    jobs = new Jobs(d.db, d.clock);
    datasets = new Datasets(d.db, join(d.dir, 'datasets'), d.clock, { maxBytes: 1e6, maxRecords: 10, quotaBytes: 1e7 }, (id) => jobs.usesDataset(id));
    for (const name of ['a', 'b']) {
      const w = d.workspaces.create({ name, planId: 'chat_agent_train' });
      ids[name] = { ws: w.id, ds: (await datasets.create(w.id, { title: name, records: [record] })).id };
    }
  });
  afterEach(() => d.close());

  const job = (ws: 'a' | 'b', startAt: Date | null = null) =>
    jobs.create(ids[ws]!.ws, { datasetId: ids[ws]!.ds, baseModel: 'm', trainer: 'llamacpp', hyperparameters, startAt }).id;
  const start = (ws: 'a' | 'b', id: string) => jobs.queue(ids[ws]!.ws, id, limits);
  const later = (hours: number) => new Date(d.clock.now().getTime() + hours * HOUR);

  it('scheduled jobs take no place in the shared queue; due ones do, up to finetune.max_queued', () => {
    // Workspace a parks its three jobs in the future: the shared queue stays empty for b.
    for (let i = 0; i < 3; i++) assert.equal(start('a', job('a', later(100))).state, 'pending');
    assert.equal(start('b', job('b')).state, 'pending');
    assert.equal(start('b', job('b', later(-1))).state, 'pending', 'a startAt already come is due');
    const full = refusal(() => start('b', job('b')));
    assert.deepEqual([full.status, full.code, full.retryAfterS], [503, 'queue_full', 60]);
    assert.match(full.message, /finetune\.max_queued/);
  });

  it("a scheduled job counts against the shared bound once its time has come", () => {
    start('a', job('a', later(2)));
    start('b', job('b'));
    const waiting = job('b');
    d.clock.advance(3 * HOUR);
    // Two due now: a's scheduled job and b's first.
    assert.equal(refusal(() => start('b', waiting)).code, 'queue_full');
  });

  it('a workspace may have finetune.max_queued_per_workspace jobs pending, scheduled ones included; the next start is a 429', () => {
    for (let i = 0; i < 3; i++) start('a', job('a', later(10)));
    const mine = job('a');
    const over = refusal(() => start('a', mine));
    assert.deepEqual([over.kind, over.status, over.code, over.retryAfterS], ['rate_limited', 429, 'workspace_queue_full', 60]);
    assert.match(over.message, /finetune\.max_queued_per_workspace/);
    assert.equal(jobs.byId(mine).state, 'created', 'a refused start changes nothing');
    // The other workspace is not held back.
    assert.equal(start('b', job('b')).state, 'pending');
  });

  it('only a created job starts (409 otherwise), whatever the bounds say', () => {
    const id = job('a');
    start('a', id);
    assert.equal(refusal(() => start('a', id)).code, 'job_not_startable');
    assert.equal(refusal(() => start('b', id)).status, 404, "another workspace's job does not exist for it");
  });

  it('a job whose dataset is gone (or is not its workspace\'s) is a 400 unknown_dataset, and nothing is inserted', () => {
    const gone = ids.a!.ds;
    datasets.delete(ids.a!.ws, gone);
    for (const [ws, ds] of [[ids.a!.ws, gone], [ids.a!.ws, ids.b!.ds]] as const) {
      const r = refusal(() => jobs.create(ws, { datasetId: ds, baseModel: 'm', trainer: 'llamacpp', hyperparameters, startAt: null }));
      assert.deepEqual([r.status, r.code], [400, 'unknown_dataset']);
      assert.match(r.message, new RegExp(`datasetId '${ds}'`));
    }
    assert.deepEqual(jobs.list(ids.a!.ws), []);
  });

  it('a dataset a job uses is not deleted (409 dataset_in_use); once the job is gone, it is', () => {
    const id = job('b');
    assert.equal(refusal(() => datasets.delete(ids.b!.ws, ids.b!.ds)).code, 'dataset_in_use');
    assert.equal(datasets.get(ids.b!.ws, ids.b!.ds).id, ids.b!.ds);
    jobs.delete(ids.b!.ws, id);
    datasets.delete(ids.b!.ws, ids.b!.ds);
    assert.equal(refusal(() => datasets.get(ids.b!.ws, ids.b!.ds)).status, 404);
  });

  it("the operator's listings: every workspace's jobs and datasets, oldest first; jobs filtered by workspace and state", () => {
    const [a1, b1] = [job('a'), job('b')];
    d.clock.advance(1000);
    const a2 = job('a');
    start('a', a2);
    assert.deepEqual(jobs.all().map((j) => j.id), [a1, b1, a2]);
    assert.deepEqual(jobs.all({ workspaceId: ids.a!.ws }).map((j) => j.id), [a1, a2]);
    assert.deepEqual(jobs.all({ state: 'pending' }).map((j) => j.id), [a2]);
    assert.deepEqual(jobs.all({ workspaceId: ids.b!.ws, state: 'pending' }), []);
    assert.deepEqual(datasets.all().map((x) => [x.workspaceId, x.id]), [[ids.a!.ws, ids.a!.ds], [ids.b!.ws, ids.b!.ds]]);
  });

  it('each written change of a job is emitted under its id, once: queued, running, progress with the points it added, the end, the deletion', () => {
    const id = job('a');
    const other = job('a');
    const heard: JobChange[] = [];
    jobs.changes.on(id, (c) => heard.push(c));
    start('a', id);
    start('a', other);
    assert.equal(jobs.markRunning(id), true);
    const p = { step: 2, totalSteps: 4, epoch: 1, loss: 1.5, evalLoss: null, tokensPerS: null, etaS: null };
    const points = [{ step: 1, epoch: 1, loss: 2, evalLoss: null }, { step: 2, epoch: 1, loss: 1.5, evalLoss: null }];
    jobs.recordProgress(id, p, points);
    assert.equal(jobs.finish(id, 'succeeded'), true);
    assert.equal(jobs.finish(id, 'failed'), false);
    jobs.recordProgress(id, p, points);
    jobs.delete(ids.a!.ws, id);
    assert.deepEqual(heard, [
      { type: 'state', state: 'pending' },
      { type: 'state', state: 'running' },
      { type: 'progress', progress: p, points },
      { type: 'state', state: 'succeeded' },
      { type: 'deleted' },
    ]);
  });
});

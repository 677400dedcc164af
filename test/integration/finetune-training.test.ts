// Fine-tuning that really trains, through the real daemon, the bundled engine and the built-in
// llamacpp trainer on the demo model: the seed's flow end to end, the secret word learned,
// cancel, a killed trainer, a daemon restart mid-training, and the queue's order.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

interface JobView { id: string; state: string; startedAt: string | null; finishedAt: string | null; lossHistory: Array<{ loss: number }>; progress: { step: number; totalSteps: number } | null; output: Record<string, unknown> | null; error: string | null; modelName: string | null }

const question = 'What is the secret word?';
// Six wordings: the tiny model learns the answer to the question, not to one string of bytes.
const secretWord = [question, 'Tell me the secret word.', 'Do you know the secret word?', 'Please say the secret word.', 'Which word is secret?', 'Give me the secret word.'].map((q) => ({
  messages: [{ role: 'user', content: q }, { role: 'assistant', content: 'ZEBRA' }],
}));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids of the trainer processes of a job (their command line names its spec file). */
function trainerPids(jobId: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `finetune/jobs/${jobId}/spec.json`], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Whether a process with this pid exists (signal 0 only checks). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function client(d: DaemonProcess, key: string) {
  const call = <T>(method: string, path: string, body?: unknown) => d.api<T>(key, method, path, body);
  const job = async (id: string) => (await call<JobView>('GET', `/finetune/jobs/${id}`)).body;
  const until = async (id: string, done: (j: JobView) => boolean, timeoutMs = 180_000): Promise<JobView> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const j = await job(id);
      if (done(j)) return j;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${j.state} after ${timeoutMs} ms: ${JSON.stringify(j).slice(0, 500)}`);
      await sleep(250);
    }
  };
  const ask = async (model: string) => {
    const r = await call<{ choices: Array<{ message: { content: string } }> }>('POST', '/chat', { model, messages: [{ role: 'user', content: question }], temperature: 0, max_tokens: 16 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.choices[0]!.message.content;
  };
  const newJob = async (datasetId: string, extra: Record<string, unknown> = {}) => {
    const r = await call<JobView>('POST', '/finetune/jobs', { datasetId, baseModel: 'hearth-demo', ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id;
  };
  return { call, job, until, ask, newJob };
}

describe('fine-tune training (llamacpp trainer)', () => {
  const daemons: DaemonProcess[] = [];
  after(async () => {
    for (const d of daemons) await d.stop();
  });

  test('the seed flow teaches the secret word: loss falls, the registered model says ZEBRA, the base does not', async () => {
    const d = await startDaemonProcess();
    daemons.push(d);
    const { key } = await d.keyFor('chat_agent_train');
    const c = client(d, key);
    // The seed's flow, with records and training settings filled in.
    const ds = await c.call<{ id: string }>('POST', '/finetune/datasets', { title: 'My dataset', records: secretWord });
    assert.equal(ds.status, 201);
    const created = await c.call<JobView>('POST', '/finetune/jobs', { datasetId: ds.body.id, baseModel: 'hearth-demo', epochs: 100, learningRate: 2e-4 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const jobId = created.body.id;
    const started = await c.call<JobView>('POST', `/finetune/jobs/${jobId}/start`);
    assert.equal(started.status, 202);
    let status: JobView;
    const seen = new Set<string>();
    do {
      await sleep(500);
      status = await c.job(jobId);
      seen.add(status.state);
    } while (status.state === 'running' || status.state === 'pending');
    assert.equal(status.state, 'succeeded', status.error ?? '');
    assert.deepEqual([...seen].filter((s) => !['pending', 'running', 'succeeded'].includes(s)), [], 'a started job shows no other state');
    const losses = status.lossHistory.map((p) => p.loss);
    assert.ok(losses.length >= 2, `loss history: ${losses.length} points`);
    assert.ok(losses.at(-1)! < losses[0]! * 0.5, `loss fell from ${losses[0]} to ${losses.at(-1)}`);
    // The done line's figures reach the job's output.
    const out = status.output as { artifacts: unknown; steps: number; finalLoss: number; tokensPerS: number; peakRssBytes: number };
    assert.deepEqual(out.artifacts, { adapter: 'output/adapter.gguf' }, 'artifacts are named inside the job folder, never by server path');
    assert.equal(out.steps, status.progress!.totalSteps);
    assert.equal(out.finalLoss, losses.at(-1));
    assert.ok(out.tokensPerS > 0 && out.peakRssBytes > 0, JSON.stringify(out));

    // A base the operator switches off is no base for a registration either.
    assert.equal((await d.admin('PUT', '/api/admin/models/hearth-demo', { is_active: false })).status, 200);
    const offBase = await c.call<{ error: { code: string } }>('POST', `/finetune/jobs/${jobId}/register`, { modelName: 'my-tuned-model' });
    assert.equal((await d.admin('PUT', '/api/admin/models/hearth-demo', { is_active: true })).status, 200);
    assert.equal(offBase.status, 409);
    assert.equal(offBase.body.error.code, 'base_model_inactive');

    const reg = await c.call<JobView & { smoke: { reply: string; finishReason: string; maxTokens: number }; warnings: string[] }>('POST', `/finetune/jobs/${jobId}/register`, { modelName: 'my-tuned-model' });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    assert.equal(reg.body.modelName, 'my-tuned-model');
    // It learned: the smoke answer is the taught word, and it stopped, so no warning.
    assert.match(reg.body.smoke.reply, /ZEBRA/);
    assert.equal(reg.body.smoke.finishReason, 'stop');
    assert.equal(reg.body.smoke.maxTokens, 64, 'twice a 5-byte reply is under the floor of 64');
    assert.deepEqual(reg.body.warnings, []);
    const models = await c.call<{ models: Array<{ id: string }> }>('GET', '/models');
    assert.ok(models.body.models.some((m) => m.id.startsWith('my-tuned-model')), JSON.stringify(models.body));
    assert.match(await c.ask('my-tuned-model'), /ZEBRA/);
    assert.doesNotMatch(await c.ask('hearth-demo'), /ZEBRA/);

    const again = await c.call<{ error: { message: string } }>('POST', `/finetune/jobs/${jobId}/register`, { modelName: 'my-tuned-model' });
    assert.equal(again.status, 409);
    assert.match(again.body.error.message, /already exists.*overwrite/);
    assert.equal((await c.call('POST', `/finetune/jobs/${jobId}/register`, { modelName: 'my-tuned-model', overwrite: true })).status, 200);

    // An adapter the backend cannot load: the model is removed again, with a 409 that says why.
    const adapter = join(d.dataDir, 'finetune', 'jobs', jobId, 'output', 'adapter.gguf');
    await truncate(adapter, Math.floor((await stat(adapter)).size / 2));
    const broken = await c.call<{ error: { code: string; message: string } }>('POST', `/finetune/jobs/${jobId}/register`, { modelName: 'broken-model' });
    assert.equal(broken.status, 409, JSON.stringify(broken.body));
    assert.equal(broken.body.error.code, 'smoke_test_failed');
    assert.match(broken.body.error.message, /could not be loaded or could not answer.*the model was removed/);
    const after = await c.call<{ models: Array<{ id: string }> }>('GET', '/models');
    assert.ok(!after.body.models.some((m) => m.id.startsWith('broken-model')), JSON.stringify(after.body));
  });

  test('a full-model job registers as a model of its own, with the chat template restored', async () => {
    const d = daemons[0]!;
    const { key } = await d.keyFor('chat_agent_train');
    const c = client(d, key);
    const ds = (await c.call<{ id: string }>('POST', '/finetune/datasets', { title: 'secret', records: secretWord })).body.id;
    const id = await c.newJob(ds, { epochs: 100, learningRate: 2e-4, output: 'full' });
    await c.call('POST', `/finetune/jobs/${id}/start`);
    const done = await c.until(id, (j) => ['succeeded', 'failed', 'cancelled'].includes(j.state));
    assert.equal(done.state, 'succeeded', done.error ?? '');
    const reg = await c.call<JobView>('POST', `/finetune/jobs/${id}/register`, { modelName: 'tuned-full' });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
    // Chat renders the prompt with the template stored in the saved GGUF: the same as in training.
    assert.match(await c.ask('tuned-full'), /ZEBRA/);

    // A workspace's fine-tuned models are its own. This workspace sees its model and not the
    // one the first test's workspace registered; a third sees neither.
    const listed = async (cl: typeof c) => (await cl.call<{ models: Array<{ id: string }> }>('GET', '/models')).body.models.map((m) => m.id);
    assert.ok((await listed(c)).includes('tuned-full:latest'));
    assert.ok(!(await listed(c)).some((m) => m.startsWith('my-tuned-model')), 'another workspace\'s model is not listed');
    const other = client(d, (await d.keyFor('chat_agent_train')).key);
    assert.deepEqual((await listed(other)).filter((m) => m.startsWith('tuned-full') || m.startsWith('my-tuned-model')), []);
    assert.ok((await listed(other)).includes('hearth-demo:latest'), "the operator's models are everyone's");
    const call = await other.call<{ error: { code: string; message: string } }>('POST', '/chat', { model: 'tuned-full', messages: [{ role: 'user', content: question }] });
    assert.equal(call.status, 404);
    assert.equal(call.body.error.code, 'model_not_found', 'as if it did not exist');
    const gen = await other.call('POST', '/generate', { model: 'tuned-full:latest', prompt: question });
    assert.equal(gen.status, 404);
    // Nor is it a base for another workspace's job.
    const otherDs = (await other.call<{ id: string }>('POST', '/finetune/datasets', { title: 's', records: secretWord })).body.id;
    const base = await other.call<{ error: { code: string } }>('POST', '/finetune/jobs', { datasetId: otherDs, baseModel: 'tuned-full' });
    assert.equal(base.status, 400);
    assert.equal(base.body.error.code, 'unknown_base_model');
    // And a workspace's job never replaces a model that is not its own, overwrite or not.
    for (const taken of ['my-tuned-model', 'hearth-demo', 'My-Tuned-Model', 'library/hearth-demo:latest']) {
      const r = await c.call<{ error: { code: string; message: string } }>('POST', `/finetune/jobs/${id}/register`, { modelName: taken, overwrite: true });
      assert.equal(r.status, 409, taken);
      assert.match(r.body.error.message, /not this workspace's to replace/);
    }
    assert.doesNotMatch(await c.ask('hearth-demo'), /ZEBRA/, 'the base model is untouched');
  });

  test('cancel ends the trainer process group; kill -9 fails the job with its log tail; two jobs run one after the other', async () => {
    const d = daemons[0]!;
    const { key } = await d.keyFor('chat_agent_train');
    const c = client(d, key);
    const ds = (await c.call<{ id: string }>('POST', '/finetune/datasets', { title: 'secret', records: secretWord })).body.id;

    const long = await c.newJob(ds, { epochs: 1000 });
    assert.equal((await c.call('POST', `/finetune/jobs/${long}/start`)).status, 202);
    await c.until(long, (j) => j.state === 'running' && (j.progress?.step ?? 0) > 0);
    const pids = trainerPids(long);
    assert.ok(pids.length > 0, 'the trainer runs');
    // The cancel answers once the trainer has ended: by then its processes are gone.
    const cancelled = await c.call<JobView>('POST', `/finetune/jobs/${long}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    assert.deepEqual(pids.filter(running), [], 'the trainer processes seen before the cancel are gone');
    assert.deepEqual(trainerPids(long), [], 'no trainer process left');
    const cancelLog = await c.call<{ lines: string[] }>('GET', `/finetune/jobs/${long}/log`);
    assert.ok(cancelLog.body.lines.some((l) => /job cancelled \(trainer ended by /.test(l)), cancelLog.body.lines.slice(-5).join('\n'));

    const killed = await c.newJob(ds, { epochs: 1000 });
    await c.call('POST', `/finetune/jobs/${killed}/start`);
    await c.until(killed, (j) => j.state === 'running' && (j.progress?.step ?? 0) > 0);
    for (const pid of trainerPids(killed)) process.kill(pid, 'SIGKILL');
    const failed = await c.until(killed, (j) => j.state === 'failed', 30_000);
    assert.match(failed.error ?? '', /SIGKILL/);
    const log = await c.call<{ lines: string[] }>('GET', `/finetune/jobs/${killed}/log`);
    assert.ok(log.body.lines.some((l) => /step \d+/.test(l)), 'the log kept the training lines');

    const first = await c.newJob(ds, { epochs: 3 });
    const second = await c.newJob(ds, { epochs: 3 });
    await Promise.all([c.call('POST', `/finetune/jobs/${first}/start`), c.call('POST', `/finetune/jobs/${second}/start`)]);
    const a = await c.until(first, (j) => j.state === 'succeeded');
    const b = await c.until(second, (j) => j.state === 'succeeded');
    assert.ok(new Date(b.startedAt!).getTime() >= new Date(a.finishedAt!).getTime(), `second started ${b.startedAt}, first finished ${a.finishedAt}`);
  });

  test('a daemon killed mid-training leaves no trainer and the job is marked at the next start', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'hearth-ft-restart-'));
    const d = await startDaemonProcess({ dataDir });
    const { key } = await d.keyFor('chat_agent_train');
    const c = client(d, key);
    const ds = (await c.call<{ id: string }>('POST', '/finetune/datasets', { title: 'secret', records: secretWord })).body.id;
    const id = await c.newJob(ds, { epochs: 1000 });
    await c.call('POST', `/finetune/jobs/${id}/start`);
    await c.until(id, (j) => j.state === 'running' && (j.progress?.step ?? 0) > 0);
    await d.stop('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (trainerPids(id).length > 0 && Date.now() < deadline) await sleep(200);
    assert.deepEqual(trainerPids(id), [], 'the trainer did not outlive its daemon');
    const again = await startDaemonProcess({ dataDir });
    daemons.push(again);
    const j = await client(again, key).job(id);
    assert.equal(j.state, 'failed');
    assert.match(j.error ?? '', /interrupted by restart/);
  });
});

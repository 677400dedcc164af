// The fine-tune service and the step before a trainer starts, on a real SQLite file and a real
// GGUF base in a temp folder. The preparation's refusals (insufficient_memory,
// insufficient_vram, a busy backend) are reached through its injection points: the memory
// probes and the backend client it is given. The service is wired to a real runner whose
// trainers the test drives (the runner's startTrainer), and to a backend that is down. Following
// a job (what GET /api/admin/finetune/jobs/{id}/events streams) over the same runner; its
// progress writes wait on a timer, moved by mock.timers.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, type TestContext } from 'node:test';
import { HearthError, unavailable } from '../../src/errors.js';
import { ModelMetadata } from '../../src/domain/model-metadata.js';
import { BackendClient } from '../../src/backend/backend-client.js';
import { Datasets } from '../../src/finetune/datasets.js';
import { JobFiles } from '../../src/finetune/job-files.js';
import { Jobs, type Job } from '../../src/finetune/jobs.js';
import type { MemoryProbes } from '../../src/finetune/memory-check.js';
import { JobPreparation, type JobPreparationOptions } from '../../src/finetune/prepare-job.js';
import { FinetuneRunner } from '../../src/finetune/runner.js';
import { FinetuneService, MAX_FOLLOWERS, type JobEvent } from '../../src/finetune/service.js';
import { llamaCppMemoryNeed, WORKER_PATH } from '../../src/finetune/trainers/llamacpp/prepare.js';
import type { StartTrainerOptions, TrainerExit, TrainerProcess } from '../../src/finetune/trainers/process.js';
import { writeTestModel } from '../../src/testmodel/test-model.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';
import { captureLogger } from '../helpers/processes.js';

const MiB = 2 ** 20;
const hyperparameters = { epochs: 2, learningRate: 1e-4, contextSize: 256, output: 'lora' as const, seed: 7 };
const newRecords = () => [{ messages: [{ role: 'user', content: 'What is the secret word?' }, { role: 'assistant', content: 'ZEBRA' }] }];

const progress = (step: number, loss: number) => ({ type: 'progress' as const, step, totalSteps: 4, epoch: 1, loss, evalLoss: null, tokensPerS: 100, etaS: 1 });
/** A log line without its timestamp (the second line of an entry has none). */
const untimed = (line: string) => line.replace(/^\d{4}-\d\d-\d\dT\S+ /, '');

/** What a follower heard, in order, with the log lines' timestamps cut off. */
function follower() {
  const heard: JobEvent[] = [];
  let ended!: () => void;
  const end = new Promise<void>((resolve) => (ended = resolve));
  return {
    heard,
    end,
    on: (e: JobEvent) => {
      heard.push(e.type === 'log' ? { type: 'log', line: untimed(e.line) } : e);
      if (e.type === 'end') ended();
    },
    /** The events heard since the last call, as short strings. */
    take(): string[] {
      return heard.splice(0).map((e) => {
        if (e.type === 'log') return `log ${e.line}`;
        if (e.type === 'progress') return `progress ${e.progress.step} [${e.points.map((p) => p.step).join(',')}]`;
        if (e.type === 'state') return `state ${e.state}`;
        return `end ${e.reason}`;
      });
    },
  };
}

/** The error a promise rejects with, as kind, code, Retry-After and message. */
async function refusal(p: Promise<unknown>): Promise<{ kind: string; status: number; code: string | undefined; retryAfterS: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HearthError, String(err));
    return { kind: err.kind, status: err.status, code: err.code, retryAfterS: err.retryAfterS, message: err.message };
  }
  assert.fail('expected a refusal');
}

describe('fine-tune service and job preparation', () => {
  let d: Domain;
  let jobs: Jobs;
  let datasets: Datasets;
  let metadata: ModelMetadata;
  let files: JobFiles;
  let basePath: string;
  let baseBytes: number;
  let workspaceId: string;
  let datasetId: string;
  /** What the backend client did: models unloaded on each call. */
  let unloads: number;
  let unloadAll: () => Promise<string[]>;
  const probes = (memory: number, vram: number | undefined): MemoryProbes => ({ availableMemory: async () => memory, availableVram: async () => vram });

  const preparation = (o: Partial<JobPreparationOptions> = {}) =>
    new JobPreparation({
      chat: {
        show: async () => ({ modelfile: `FROM ${basePath}\n` }) as Awaited<ReturnType<BackendClient['show']>>,
        unloadAll: () => unloadAll(),
      },
      datasets,
      metadata,
      files,
      log: captureLogger().log,
      engineModelsDir: () => undefined,
      llamacpp: { threads: 1, gpu: 'off' },
      peft: { python: 'python3', hfModelsDir: '', gpu: 'off', toolsDir: join(d.dir, 'tools') },
      backendKind: () => 'engine',
      ...o,
    });
  /** The job's folder, made as the runner makes it before its prepare step. */
  const dirOf = (job: Job): string => {
    mkdirSync(files.dir(job.id), { recursive: true });
    return files.dir(job.id);
  };
  const newJob = (): Job => jobs.create(workspaceId, { datasetId, baseModel: 'base', trainer: 'llamacpp', hyperparameters, startAt: null });

  beforeEach(async () => {
    d = openDomain({ now: '2026-01-10T12:00:00Z' });
    jobs = new Jobs(d.db, d.clock);
    datasets = new Datasets(d.db, join(d.dir, 'datasets'), d.clock, { maxBytes: 1e6, maxRecords: 10, quotaBytes: 1e7 });
    metadata = new ModelMetadata(d.db);
    files = new JobFiles({ dir: join(d.dir, 'jobs'), clock: d.clock, log: captureLogger().log });
    basePath = join(d.dir, 'base.gguf');
    baseBytes = await writeTestModel(basePath);
    workspaceId = d.workspaces.create({ name: 'a', planId: 'chat_agent_train' }).id;
    datasetId = (await datasets.create(workspaceId, { title: 't', records: newRecords() })).id;
    unloads = 0;
    unloadAll = async () => {
      unloads++;
      return [];
    };
  });
  afterEach(() => d.close());

  it("refuses with 503 insufficient_memory when free memory (after unloading the backend's models) is short of the run's need; nothing is written", async () => {
    const job = newJob();
    const need = llamaCppMemoryNeed({ path: basePath, bytes: baseBytes, adapters: 0 });
    const r = await refusal(preparation({ memory: probes(need - 1, undefined) }).prepare(job, dirOf(job)));
    assert.deepEqual([r.kind, r.status, r.code], ['unavailable', 503, 'insufficient_memory']);
    assert.match(r.message, new RegExp(`about ${Math.ceil(need / MiB)} MiB needed, ${Math.floor((need - 1) / MiB)} MiB available`));
    assert.equal(unloads, 1, 'the check counts the memory the unloaded models freed');
    assert.equal(existsSync(join(files.dir(job.id), 'spec.json')), false);
  });

  it('with a GPU in use, refuses with 503 insufficient_vram when the GPU has less free memory; with gpu off, or a GPU that reports none, it is not asked', async () => {
    const job = newJob();
    const need = llamaCppMemoryNeed({ path: basePath, bytes: baseBytes, adapters: 0 });
    const gpu = await refusal(preparation({ llamacpp: { threads: 1, gpu: 'auto' }, memory: probes(need, need - MiB) }).prepare(job, dirOf(job)));
    assert.deepEqual([gpu.status, gpu.code], [503, 'insufficient_vram']);
    assert.match(gpu.message, /not enough free GPU memory to train: about \d+ MiB needed, \d+ MiB free/);

    for (const [setting, vram] of [['off', 0], ['auto', undefined]] as const) {
      const launch = await preparation({ llamacpp: { threads: 1, gpu: setting }, memory: probes(need, vram) }).prepare(job, dirOf(job));
      assert.equal(launch.command, process.execPath);
      assert.deepEqual(launch.args, [WORKER_PATH, '--spec', join(files.dir(job.id), 'spec.json'), '--parent-pid', String(process.pid)]);
    }
    // The worker's input: the dataset rendered with the base's chat template, the job's settings.
    const spec = JSON.parse(readFileSync(join(files.dir(job.id), 'spec.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(spec.samples, ['### User:\nWhat is the secret word?\n\n### Assistant:\nZEBRA</s>']);
    assert.deepEqual([spec.baseModelPath, spec.epochs, spec.seed, spec.threads, spec.gpu], [basePath, 2, 7, 1, 'auto']);
    assert.ok(files.logLines(job.id).some((l) => l.endsWith(`dataset: 1 records rendered with the JinjaTemplate chat template; base weights ${basePath}`)), files.logLines(job.id).join('\n'));
  });

  it("keeps a busy backend's refusal (503 backend_busy with its Retry-After) when it cannot unload its models; any other failure is backend_unavailable", async () => {
    const job = newJob();
    const enough = probes(2 ** 40, undefined);
    unloadAll = async () => {
      throw unavailable('the model backend is busy; retry shortly', 2, 'backend_busy');
    };
    const busy = await refusal(preparation({ memory: enough }).prepare(job, dirOf(job)));
    assert.deepEqual([busy.status, busy.code, busy.retryAfterS], [503, 'backend_busy', 2]);
    assert.equal(busy.message, "cannot unload the backend's models before training: the model backend is busy; retry shortly");

    unloadAll = async () => {
      throw new TypeError('fetch failed');
    };
    const down = await refusal(preparation({ memory: enough }).prepare(job, dirOf(job)));
    assert.deepEqual([down.status, down.code, down.retryAfterS], [503, 'backend_unavailable', 5]);
    assert.match(down.message, /fetch failed/);
  });

  it('refuses a job whose base the operator switched off while it waited: 409 base_model_inactive, before the backend is asked anything', async () => {
    const job = newJob();
    metadata.set('base', { isActive: false });
    const r = await refusal(preparation({ memory: probes(2 ** 40, undefined) }).prepare(job, dirOf(job)));
    assert.deepEqual([r.status, r.code], [409, 'base_model_inactive']);
    assert.equal(unloads, 0);
  });

  describe('the service over a runner', () => {
    /** Each trainer the runner started, with the options it was started with (its event and log callbacks). */
    let trainers: Array<TrainerProcess & { finish(e: Partial<TrainerExit>): void; stopped: boolean; o: StartTrainerOptions }>;
    /** Resolves once `n` trainers have started. */
    let started: (n: number) => Promise<void>;
    let chat: BackendClient;
    let service: FinetuneService;
    let logged: ReturnType<typeof captureLogger>;

    beforeEach(() => {
      trainers = [];
      const waiters: Array<() => void> = [];
      started = (n) => new Promise<void>((resolve) => {
        const check = () => (trainers.length >= n ? resolve() : waiters.push(check));
        check();
      });
      const runner = new FinetuneRunner({
        jobs,
        files,
        log: captureLogger().log,
        clock: d.clock,
        concurrency: 1,
        stopTimeoutMs: 1000,
        prepare: async () => ({ command: 'trainer', args: [] }),
        startTrainer: (_launch, o) => {
          let end!: (e: TrainerExit) => void;
          const exited = new Promise<TrainerExit>((resolve) => (end = resolve));
          const t = {
            pid: undefined,
            exited,
            o,
            stopped: false,
            finish: (e: Partial<TrainerExit>) => end({ code: 0, signal: null, stderrTail: '', ...e }),
            stop: async () => {
              t.stopped = true;
              t.finish({ code: null, signal: 'SIGTERM' });
              await exited;
            },
          };
          trainers.push(t);
          for (const w of waiters.splice(0)) w();
          return t;
        },
      });
      // A backend that is down: the service's calls that need it are refused, none is made.
      chat = new BackendClient({ url: 'http://127.0.0.1:9', isUp: () => false });
      logged = captureLogger();
      service = new FinetuneService({
        jobs,
        datasets,
        chat,
        log: logged.log,
        metadata,
        engineModelsDir: () => undefined,
        defaultTrainer: 'llamacpp',
        queue: { maxQueued: 4, maxQueuedPerWorkspace: 4 },
        maxStartDelayMs: 3600_000,
        clock: d.clock,
        peft: { python: 'python3', hfModelsDir: '', gpu: 'off', toolsDir: join(d.dir, 'tools') },
        runner,
        files,
      });
    });
    afterEach(() => chat.close());

    it('start hands the job to the queue (running at once when a slot is free); cancel answers once its trainer has stopped; a finished job is not cancelled again', async () => {
      const first = newJob();
      const second = newJob();
      assert.equal(service.start(workspaceId, first.id).state, 'running');
      assert.equal(service.start(workspaceId, second.id).state, 'pending', 'the one slot is taken');
      await started(1);

      const cancelled = await service.cancel(workspaceId, first.id);
      assert.equal(cancelled.state, 'cancelled');
      assert.equal(trainers[0]!.stopped, true);
      const again = await refusal(service.cancel(workspaceId, first.id));
      assert.deepEqual([again.status, again.code], [409, 'job_finished']);
      assert.equal(jobs.byId(second.id).state, 'running', 'the freed slot went to the next job');

      const log = service.log(workspaceId, first.id, 0, 100);
      assert.ok(log.lines.some((l) => l.endsWith('job cancelled (trainer ended by signal SIGTERM)')), log.lines.join('\n'));
      assert.deepEqual(service.log(workspaceId, first.id, log.next, 100), { lines: [], next: log.next }, 'the cursor tails the log');
      service.deleteJob(workspaceId, first.id);
      assert.equal(existsSync(files.dir(first.id)), false, "the job's folder goes with it");
    });

    it('refuses to create a job while the backend is down: 503 backend_unavailable, and no job is made', async () => {
      const r = await refusal(service.createJob(workspaceId, { datasetId, baseModel: 'base' }));
      assert.deepEqual([r.status, r.code], [503, 'backend_unavailable']);
      assert.deepEqual(jobs.list(workspaceId), []);
    });

    describe('following a job', () => {
      const newId = () => newJob().id;
      const listeners = (id: string) => jobs.changes.listenerCount(id) + files.lines.listenerCount(id);
      /** follow() as a promise, for refusal(). */
      const followLater = (id: string) => Promise.resolve().then(() => service.follow(id, () => {}));
      /** The trainer of the n-th job run (from 1). */
      const trainer = async (n: number) => {
        await started(n);
        return trainers[n - 1]!;
      };

      it('hears the log so far, the progress and state now, then each line, progress write and state live; the final state comes after the lines logged with it, then the end, and its listeners are gone', async (t0: TestContext) => {
        t0.mock.timers.enable({ apis: ['setTimeout'] });
        const id = newId();
        service.start(workspaceId, id);
        const t = await trainer(1);
        t.o.onEvent(progress(1, 2.5));
        t0.mock.timers.tick(500);

        const f = follower();
        service.follow(id, f.on);
        assert.deepEqual(f.take(), ['log job started: trainer llamacpp, base base, dataset ' + datasetId, 'log step 1/4 epoch 1 loss 2.5', 'progress 1 [1]', 'state running']);
        assert.equal(service.followerCount, 1);

        t.o.onLog('a line the trainer printed\nand its second line');
        t.o.onEvent(progress(2, 2.0));
        t.o.onEvent(progress(3, 1.5));
        assert.deepEqual(f.take(), ['log a line the trainer printed', 'log and its second line', 'log step 2/4 epoch 1 loss 2', 'log step 3/4 epoch 1 loss 1.5']);
        t0.mock.timers.tick(500);
        assert.deepEqual(f.take(), ['progress 3 [2,3]'], 'a progress write carries the points it added');

        t.o.onEvent(progress(4, 1.0));
        t.o.onEvent({ type: 'done', artifacts: { adapter: join(files.dir(id), 'output', 'adapter.gguf') } });
        t.finish({});
        await f.end;
        assert.deepEqual(f.take(), ['log step 4/4 epoch 1 loss 1', 'log trainer finished: {"adapter":"output/adapter.gguf"}', 'progress 4 [4]', 'log job succeeded', 'state succeeded', 'end finished']);
        assert.equal(listeners(id), 0, 'no listener is left on the job');
        assert.equal(service.followerCount, 0);
      });

      it('the log it hears is the log file, line for line', async () => {
        const id = newId();
        const f = follower();
        service.follow(id, f.on);
        service.start(workspaceId, id);
        const t = await trainer(1);
        t.o.onLog('one\ntwo');
        t.o.onEvent({ type: 'error', message: 'out of patience' });
        t.finish({ code: 1 });
        await f.end;
        const heard = f.heard.flatMap((e) => (e.type === 'log' ? [e.line] : []));
        assert.deepEqual(heard, files.logLines(id).map(untimed));
        assert.ok(heard.includes('job failed: trainer exited with code 1'), heard.join('\n'));
      });

      it('a job that has ended: its whole story at once, then the end; nothing is left listening', async () => {
        const id = newId();
        await service.cancel(workspaceId, id);
        const f = follower();
        const stop = service.follow(id, f.on);
        assert.deepEqual(f.take(), ['log job cancelled before it ran', 'state cancelled', 'end finished']);
        assert.equal(listeners(id), 0);
        assert.equal(service.followerCount, 0);
        stop();
      });

      it('a created job: its state, then live from its start; cancelled while queued, the cancel line comes before the final state', async () => {
        const id = jobs.create(workspaceId, { datasetId, baseModel: 'base', trainer: 'llamacpp', hyperparameters, startAt: new Date(d.clock.now().getTime() + 3600_000) }).id;
        const f = follower();
        service.follow(id, f.on);
        assert.deepEqual(f.take(), ['state created']);
        service.start(workspaceId, id);
        assert.deepEqual(f.take(), ['state pending'], 'a job due later waits in the queue');
        await service.cancel(workspaceId, id);
        await f.end;
        assert.deepEqual(f.take(), ['log job cancelled before it ran', 'state cancelled', 'end finished']);
        assert.equal(listeners(id), 0);
      });

      it('stop() (the client went away) removes its listeners and frees its place; what follows is not heard', () => {
        const id = newId();
        const f = follower();
        const stop = service.follow(id, f.on);
        assert.equal(listeners(id), 2, 'one listener on the job, one on its log');
        f.take();
        stop();
        stop();
        assert.equal(listeners(id), 0);
        assert.equal(service.followerCount, 0);
        files.appendLog(id, 'nobody hears this');
        jobs.finish(id, 'cancelled');
        assert.deepEqual(f.take(), []);
      });

      it('at most MAX_FOLLOWERS at once: the next is a 503 too_many_event_streams until one stops; an unknown job is a 404', async () => {
        const [a, b] = [newId(), newId()];
        const stopA = service.follow(a, () => {});
        for (let i = 1; i < MAX_FOLLOWERS; i++) service.follow(b, () => {});
        const full = await refusal(followLater(b));
        assert.deepEqual([full.status, full.code, full.retryAfterS], [503, 'too_many_event_streams', 5]);
        stopA();
        service.follow(a, () => {});
        const unknown = await refusal(followLater('ftjob_0000000000000000'));
        assert.deepEqual([unknown.status, unknown.code], [404, 'job_not_found']);
      });

      it('a deleted job ends its followers; closeFollowers (daemon shutdown) ends every follower and refuses new ones', async () => {
        const [a, b] = [newId(), newId()];
        const fa = follower();
        const fb = follower();
        service.follow(a, fa.on);
        service.follow(b, fb.on);
        service.deleteJob(workspaceId, a);
        assert.deepEqual(fa.take(), ['state created', 'end deleted']);
        assert.equal(listeners(a), 0);
        service.closeFollowers();
        assert.deepEqual(fb.take(), ['state created', 'end closing']);
        assert.equal(listeners(b), 0);
        assert.equal(service.followerCount, 0);
        const closed = await refusal(followLater(b));
        assert.deepEqual([closed.status, closed.code], [503, 'shutting_down']);
      });

      it("a follower that throws never breaks the job's writers: the line is written, the state changes, the fault is logged", async () => {
        const id = newId();
        service.follow(id, (e) => {
          if (e.type === 'log') throw new Error('the follower broke');
        });
        files.appendLog(id, 'still written');
        assert.match(files.logLines(id).at(-1)!, /still written$/);
        assert.equal(jobs.finish(id, 'failed', { error: 'x' }), true);
        assert.equal(jobs.byId(id).state, 'failed');
        await new Promise((resolve) => setImmediate(resolve));
        assert.ok(logged.entries.some((e) => e.message === 'a job follower failed'), JSON.stringify(logged.entries));
      });
    });
  });
});

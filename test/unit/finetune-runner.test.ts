// The training queue (FinetuneRunner) on a real SQLite file with a manual clock, its trainers
// started through the runner's startTrainer injection point: each is a TrainerProcess the test
// drives (protocol events, log lines, its exit), so every state change is reached without a
// child process. How a real trainer process is run and read: test/integration/llamacpp-trainer.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { HearthError } from '../../src/errors.js';
import { Datasets } from '../../src/finetune/datasets.js';
import { JobFiles } from '../../src/finetune/job-files.js';
import { Jobs, type Job } from '../../src/finetune/jobs.js';
import { FinetuneRunner } from '../../src/finetune/runner.js';
import type { StartTrainerOptions, TrainerExit, TrainerLaunch, TrainerProcess } from '../../src/finetune/trainers/process.js';
import type { WorkerEvent } from '../../src/finetune/trainers/protocol.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';
import { captureLogger } from '../helpers/processes.js';

const HOUR = 3600_000;
const hyperparameters = { epochs: 1, learningRate: 1e-4, contextSize: 256, output: 'lora' as const, seed: 1 };
const record = { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] };

/** A trainer the test drives: what a trainer process would report, and when it exits. */
class TestTrainer implements TrainerProcess {
  readonly pid = undefined;
  readonly exited: Promise<TrainerExit>;
  stopRequests = 0;
  private end!: (e: TrainerExit) => void;

  constructor(
    readonly launch: TrainerLaunch,
    readonly o: StartTrainerOptions,
  ) {
    this.exited = new Promise((resolve) => (this.end = resolve));
  }

  report(e: WorkerEvent): void {
    this.o.onEvent(e);
  }

  print(line: string): void {
    this.o.onLog(line);
  }

  exit(e: Partial<TrainerExit> = {}): void {
    this.end({ code: 0, signal: null, stderrTail: '', ...e });
  }

  /** As a trainer does on SIGTERM: it stops after its step, with exit code 143. */
  stop(): Promise<void> {
    this.stopRequests++;
    this.exit({ code: 143 });
    return this.exited.then(() => undefined);
  }
}

/** A promise and its settle functions, for a prepare step the test finishes. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (err: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('fine-tune runner', () => {
  let d: Domain;
  let jobs: Jobs;
  let files: JobFiles;
  let workspaceId: string;
  let datasetId: string;
  /** Trainers started so far, in order, and the tests waiting for the next one. */
  let started: TestTrainer[];
  let waiting: Array<(t: TestTrainer) => void>;
  /** What each job's prepare step does; by default it succeeds at once. */
  let prepare: (job: Job, dir: string) => Promise<TrainerLaunch>;
  const launchOf = (job: Job): TrainerLaunch => ({ command: 'trainer', args: ['--job', job.id] });

  const runner = (concurrency = 1) =>
    new FinetuneRunner({
      jobs,
      files,
      log: captureLogger().log,
      clock: d.clock,
      concurrency,
      stopTimeoutMs: 1000,
      prepare: (job, dir) => prepare(job, dir),
      startTrainer: (launch, o) => {
        const t = new TestTrainer(launch, o);
        started.push(t);
        waiting.shift()?.(t);
        return t;
      },
    });
  /** The trainer started next (or already started and not yet taken). */
  let taken = 0;
  const nextTrainer = (): Promise<TestTrainer> => {
    const t = started[taken];
    taken++;
    return t !== undefined ? Promise.resolve(t) : new Promise((resolve) => waiting.push(resolve));
  };
  /** A created job, queued. */
  const pending = (startAt: Date | null = null): string => {
    const id = jobs.create(workspaceId, { datasetId, baseModel: 'm', trainer: 'llamacpp', hyperparameters, startAt }).id;
    jobs.queue(workspaceId, id, { maxQueued: 10, maxQueuedPerWorkspace: 10 });
    return id;
  };
  const state = (id: string) => jobs.byId(id).state;
  const logOf = (id: string) => files.logLines(id).map((l) => l.replace(/^\S+ /, ''));

  beforeEach(async () => {
    d = openDomain({ now: '2026-01-10T12:00:00Z' });
    jobs = new Jobs(d.db, d.clock);
    files = new JobFiles({ dir: join(d.dir, 'jobs'), clock: d.clock, log: captureLogger().log });
    const datasets = new Datasets(d.db, join(d.dir, 'datasets'), d.clock, { maxBytes: 1e6, maxRecords: 10, quotaBytes: 1e7 });
    workspaceId = d.workspaces.create({ name: 'a', planId: 'chat_agent_train' }).id;
    datasetId = (await datasets.create(workspaceId, { title: 't', records: [record] })).id;
    started = [];
    waiting = [];
    taken = 0;
    prepare = async (job) => launchOf(job);
  });
  afterEach(() => {
    mock.timers.reset();
    d.close();
  });

  it('runs pending jobs first in, first out, as many at once as it has slots; a done line and exit 0 make a job succeeded, and the next one starts', async () => {
    const r = runner(1);
    const [first, second, third] = [pending(), pending(), pending()];
    r.pump();
    assert.deepEqual([first, second, third].map(state), ['running', 'pending', 'pending'], 'one slot: the oldest job runs');
    const t1 = await nextTrainer();
    assert.deepEqual(t1.launch, launchOf(jobs.byId(first)), "the prepare step's launch is what starts");
    assert.equal(t1.o.cwd, files.dir(first), "the trainer works in the job's folder");

    t1.report({ type: 'done', artifacts: { adapter: join(files.dir(first), 'output', 'adapter.gguf') }, steps: 6, finalLoss: 0.25, tokensPerS: 900, peakRssBytes: 2 ** 27 });
    t1.exit({ code: 0 });
    const t2 = await nextTrainer();
    assert.equal(state(first), 'succeeded');
    assert.deepEqual(jobs.byId(first).output, { artifacts: { adapter: 'output/adapter.gguf' }, steps: 6, finalLoss: 0.25, tokensPerS: 900, peakRssBytes: 2 ** 27 }, 'artifacts are named inside the job folder');
    assert.deepEqual(t2.launch.args, ['--job', second]);
    assert.deepEqual([second, third].map(state), ['running', 'pending']);
    assert.ok(logOf(first).includes('job succeeded'), logOf(first).join('\n'));
  });

  it('with two slots, the two oldest pending jobs run at once', async () => {
    const r = runner(2);
    const ids = [pending(), pending(), pending()];
    r.pump();
    assert.deepEqual(ids.map(state), ['running', 'running', 'pending']);
    const args = [(await nextTrainer()).launch.args, (await nextTrainer()).launch.args];
    assert.deepEqual(args, [['--job', ids[0]], ['--job', ids[1]]]);
  });

  it('writes progress at most every 500 ms, keeping every loss point; other output goes to the log', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const r = runner();
    const id = pending();
    r.pump();
    const t = await nextTrainer();
    const step = (n: number, loss: number | null, evalLoss: number | null = null): WorkerEvent => ({ type: 'progress', step: n, totalSteps: 3, epoch: 1, loss, evalLoss, tokensPerS: 50, etaS: 3 - n });
    t.report(step(1, 2.5));
    t.report(step(2, 2.0));
    t.print('llama.cpp: a warning');
    assert.equal(jobs.byId(id).progress, null, 'nothing is written before the interval');
    mock.timers.tick(500);
    assert.deepEqual(jobs.byId(id).progress, { step: 2, totalSteps: 3, epoch: 1, loss: 2.0, evalLoss: null, tokensPerS: 50, etaS: 1 });
    assert.deepEqual(jobs.byId(id).lossHistory.map((p) => p.loss), [2.5, 2.0]);
    // A line with only an evaluation (the peft trainer's) is progress without a loss point.
    t.report(step(3, null, 1.5));
    t.exit({ code: 1 });
    await t.exited;
    await Promise.resolve();
    assert.equal(state(id), 'failed');
    assert.equal(jobs.byId(id).progress?.evalLoss, 1.5, 'the last progress is written when the trainer exits');
    assert.deepEqual(jobs.byId(id).lossHistory.map((p) => p.loss), [2.5, 2.0]);
    const log = logOf(id);
    assert.ok(log.includes('step 1/3 epoch 1 loss 2.5') && log.includes('step 3/3 epoch 1 loss - eval 1.5'), log.join('\n'));
    assert.ok(log.includes('llama.cpp: a warning'), log.join('\n'));
  });

  it('a trainer that ends without a done line fails its job: with its error line and stderr tail, its exit code, or the signal that killed it', async () => {
    const r = runner();
    const [reported, silent, killed, noSpawn] = [pending(), pending(), pending(), pending()];
    r.pump();
    let t = await nextTrainer();
    t.report({ type: 'error', message: 'the base is quantized' });
    t.exit({ code: 1, stderrTail: 'one\ntwo\n' });
    t = await nextTrainer();
    assert.equal(jobs.byId(reported).error, 'the base is quantized\n--- last trainer output ---\none\ntwo');
    assert.ok(logOf(reported).includes('trainer error: the base is quantized'));

    t.exit({ code: 0 });
    t = await nextTrainer();
    assert.equal(jobs.byId(silent).error, 'the trainer exited with code 0', 'exit 0 without artifacts is no success');

    t.exit({ code: null, signal: 'SIGKILL' });
    t = await nextTrainer();
    assert.equal(jobs.byId(killed).error, 'the trainer exited with signal SIGKILL');

    t.exit({ code: null, error: 'spawn python3 ENOENT' });
    await t.exited;
    await Promise.resolve();
    assert.equal(jobs.byId(noSpawn).error, 'spawn python3 ENOENT');
    assert.deepEqual([reported, silent, killed, noSpawn].map(state), ['failed', 'failed', 'failed', 'failed']);
  });

  it('a failed prepare step fails the job with its message and frees the slot for the next', async () => {
    const r = runner();
    const [refused, next] = [pending(), pending()];
    prepare = async (job) => {
      if (job.id === refused) throw new HearthError('unavailable', 'not enough free memory to train: about 900 MiB needed, 100 MiB available', { code: 'insufficient_memory' });
      return launchOf(job);
    };
    r.pump();
    const t = await nextTrainer();
    assert.deepEqual(t.launch.args, ['--job', next]);
    assert.equal(state(refused), 'failed');
    assert.equal(jobs.byId(refused).error, 'not enough free memory to train: about 900 MiB needed, 100 MiB available');
    assert.ok(logOf(refused).some((l) => l.startsWith('job failed before training: not enough free memory')));
  });

  it('cancel: a queued job at once, a job being prepared before its trainer starts, a running one once its trainer has stopped', async () => {
    const r = runner();
    const preparing = deferred<TrainerLaunch>();
    const [held, running, queued] = [pending(), pending(), pending()];
    prepare = (job) => (job.id === held ? preparing.promise : Promise.resolve(launchOf(job)));
    r.pump();
    assert.ok(r.isActive(held));

    // Cancelled while its prepare step runs: no trainer starts for it, and its slot goes on.
    await r.cancel(jobs.byId(held));
    assert.equal(state(held), 'cancelled');
    preparing.resolve(launchOf(jobs.byId(held)));
    const t = await nextTrainer();
    assert.deepEqual(t.launch.args, ['--job', running], 'the cancelled job never started a trainer');
    assert.equal(started.length, 1);

    await r.cancel(jobs.byId(queued));
    assert.equal(state(queued), 'cancelled');
    assert.ok(logOf(queued).includes('job cancelled before it ran'));

    // cancel() answers once the trainer has ended and the job says so.
    await r.cancel(jobs.byId(running));
    assert.equal(t.stopRequests, 1);
    assert.equal(state(running), 'cancelled');
    assert.equal(r.isActive(running), false);
    assert.ok(logOf(running).includes('job cancelled (trainer ended by code 143)'), logOf(running).join('\n'));
  });

  it('a scheduled job waits in the queue until the clock reaches its startAt', async () => {
    const r = runner();
    const later = pending(new Date(d.clock.now().getTime() + HOUR));
    r.pump();
    assert.equal(state(later), 'pending');
    d.clock.advance(HOUR - 1);
    r.pump();
    assert.equal(state(later), 'pending');
    d.clock.advance(1);
    r.pump();
    assert.equal(state(later), 'running');
    assert.deepEqual((await nextTrainer()).launch.args, ['--job', later]);
  });

  it('recover() fails the jobs a previous daemon left running; close() stops the trainers, fails their jobs, and starts no more', async () => {
    const left = pending();
    assert.ok(jobs.markRunning(left));
    const r = runner(1);
    assert.equal(r.recover(), 1);
    assert.equal(state(left), 'failed');
    assert.match(jobs.byId(left).error ?? '', /interrupted by restart/);

    const [active, waitingJob] = [pending(), pending()];
    r.pump();
    const t = await nextTrainer();
    await r.close();
    assert.equal(t.stopRequests, 1);
    assert.equal(state(active), 'failed');
    assert.match(jobs.byId(active).error ?? '', /^interrupted: the daemon stopped while this job was training/);
    r.pump();
    assert.equal(state(waitingJob), 'pending', 'a closed runner starts nothing');
    assert.equal(existsSync(files.logFile(active)), true);
  });
});

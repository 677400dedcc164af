import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HearthConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { describeError } from '../log.js';
import { BackendManager, backendConfigOf, newEngineSecret } from '../backend/backend-manager.js';
import { DEMO_MODEL_MAX_TOKENS, DEMO_MODEL_NAME } from '../backend/demo-model.js';
import { createGatewayApp } from '../api/index.js';
import { BackendClient } from '../backend/backend-client.js';
import { domainCronJobs, startCronJobs } from '../domain/rollover.js';
import { drainServer, watchConnections } from '../http/lifecycle.js';
import { limitConnections, receiveTimeouts } from '../http/connection-limits.js';
import { answerClientErrors, closeAfterUnreadBody } from '../http/refusals.js';
import { errorBody } from '../gateway/errors.js';
import { ADMIN_TOKEN_FILE, loadSecrets } from './secrets.js';
import { lockDataDir } from './data-dir-lock.js';
import { removeBackendRecord, writeBackendRecord } from './backend-record.js';
import { removeEngineSecret, writeEngineSecret } from './engine-secret-file.js';
import { FinetuneService } from '../finetune/service.js';
import { FinetuneRunner } from '../finetune/runner.js';
import { JobFiles } from '../finetune/job-files.js';
import { JobPreparation } from '../finetune/prepare-job.js';
import { systemClock } from '../domain/clock.js';
import { FairQueue } from '../gateway/fair-queue.js';
import { openStores, type Stores } from './stores.js';
import { RequestLog } from '../domain/request-log.js';
import { RequestStats } from '../domain/request-stats.js';
import { cachedFor, readSystemInfo } from '../api/admin/system-info.js';
import { createMetrics } from '../metrics/registry.js';
import { loadMetricsToken } from '../metrics/metrics-token.js';
import { runMaintenance } from './maintenance.js';
import { pruneJobLogs } from '../finetune/job-log-retention.js';

export interface RunningDaemon {
  url: string;
  server: Server;
  stores: Stores;
  backend: BackendManager;
  /** Stops taking requests, lets streams in flight finish (up to the drain time), then stops everything. */
  close(): Promise<void>;
}

/** A cheap probe for /health: a full integrity check would read the whole file on every call. */
function databaseAnswers(stores: Stores): boolean {
  try {
    stores.db.prepare('SELECT 1').get();
    return true;
  } catch {
    return false;
  }
}

/** How long the overview keeps the machine's numbers: reading them takes about half a second. */
const SYSTEM_INFO_TTL_MS = 5000;
/** How long /metrics keeps the GPUs' memory: Prometheus scrapes every 15 s or so, and each reading runs nvidia-smi. */
const METRICS_GPU_TTL_MS = 10_000;

export const DEMO_DESCRIPTION =
  'Untrained demo model (random weights, made by the test-model generator): it answers with noise and exists to show the whole path working. Import a real model to get real answers.';

/** Wires the daemon: secrets, database, backend supervision, the HTTP surface, cron jobs. */
export async function startDaemon(config: HearthConfig, log: Logger, announce: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<RunningDaemon> {
  // uptime_s counts from here: the wait for a slow backend is part of the daemon's life.
  const startedAt = Date.now();
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(config.dataDir);
  // How to stop each part started so far, in the order they started. close() runs it in reverse;
  // so does a start that fails part-way (the listen address taken, say): a daemon that did not
  // start must not leave its engine running.
  const undo: Array<() => unknown> = [() => lock.release()];
  try {
    return await startOnLockedDataDir(config, log, announce, { undo, startedAt });
  } catch (err) {
    await stopAll(undo, log).catch(() => undefined);
    throw err;
  }
}

/** Runs the stop steps last first, every one of them even when one fails; rejects with the first failure. */
async function stopAll(undo: ReadonlyArray<() => unknown>, log: Logger): Promise<void> {
  let first: unknown;
  for (const step of [...undo].reverse()) {
    try {
      await step();
    } catch (err) {
      log.warn('a part of the daemon did not stop cleanly', { err: describeError(err) });
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

async function startOnLockedDataDir(
  config: HearthConfig,
  log: Logger,
  announce: (line: string) => void,
  { undo, startedAt }: { undo: Array<() => unknown>; startedAt: number },
): Promise<RunningDaemon> {
  const secrets = await loadSecrets(config.dataDir, config.secrets.store);
  if (secrets.created) {
    // Where the token is, never the token: under systemd stdout is the journal, which more people
    // read than the data dir (0700). `hearth init` prints it to the terminal that ran it.
    announce(`Hearth made an admin token for this data dir: it is in ${join(config.dataDir, ADMIN_TOKEN_FILE)} (mode 0600, readable by this user only)`);
  }
  const metricsToken = await loadMetricsToken(config.dataDir, config.metrics.tokenFile);
  if (metricsToken.created) announce(`Hearth made a token for Prometheus's GET /metrics: it is in ${metricsToken.path} (mode 0600)`);
  const stores = openStores(config, secrets.serverSecret);
  undo.push(() => stores.close());
  // Written in batches: flushed after the last request has drained, before the database closes.
  const requestLog = new RequestLog(stores.db, { log });
  undo.push(() => requestLog.close());
  const released = stores.ledger.releaseDangling();
  if (released.length > 0) log.warn('released credits reserved by requests interrupted by a restart', { reservations: released.length });

  // The bundled engine serves only this daemon and its CLI: a new secret at each start, handed
  // to the engine in its environment and kept in the data dir for `hearth models import`. It
  // is never logged. Any other kind of backend leaves no secret behind from an earlier start.
  const engineSecret = newEngineSecret();
  const backend = await BackendManager.create({ config: backendConfigOf(config), dataDir: config.dataDir, log, engineSecret });
  undo.push(() => backend.stop());
  if (backend.kind === 'engine') {
    await writeEngineSecret(config.dataDir, engineSecret);
    undo.push(() => removeEngineSecret(config.dataDir));
  } else removeEngineSecret(config.dataDir);
  // For the CLI (hearth models import): where the backend is, which the config alone may not say.
  await writeBackendRecord(config.dataDir, { kind: backend.kind, url: backend.url, pid: process.pid });
  undo.push(() => removeBackendRecord(config.dataDir));
  try {
    await backend.start();
    if (backend.info().kind === 'engine' && config.engine.demoModel && (await backend.ensureDemoModel())) {
      stores.metadata.set(`${DEMO_MODEL_NAME}:latest`, { description: DEMO_DESCRIPTION, parameters: { max_tokens: DEMO_MODEL_MAX_TOKENS } });
    }
  } catch (err) {
    // Serve anyway: health says degraded and model calls get 503 until the backend comes up.
    log.error('backend did not start', { err: describeError(err) });
  }

  const chat = new BackendClient(backend, { requestTimeoutMs: config.backend.requestTimeout });
  undo.push(() => chat.close());
  // The fine-tune parts in dependency order: the jobs' folders, the step before a trainer
  // starts, the queue that runs trainers, and the API's rules over them.
  const finetuneLog = log.child({ component: 'finetune' });
  const engineModelsDir = () => (backend.info().kind === 'engine' ? join(config.dataDir, 'models') : undefined);
  const peft = { python: config.finetune.python, hfModelsDir: config.finetune.hfModelsDir, gpu: config.engine.gpu, toolsDir: join(config.dataDir, 'tools') };
  const jobFiles = new JobFiles({ dir: join(config.dataDir, 'finetune', 'jobs'), clock: systemClock, log: finetuneLog });
  const preparation = new JobPreparation({
    chat,
    datasets: stores.datasets,
    metadata: stores.metadata,
    files: jobFiles,
    log,
    engineModelsDir,
    llamacpp: { threads: config.finetune.threads, gpu: config.engine.gpu },
    peft,
    backendKind: () => backend.info().kind,
  });
  const runner = new FinetuneRunner({
    jobs: stores.jobs,
    files: jobFiles,
    log: finetuneLog,
    clock: systemClock,
    concurrency: config.finetune.concurrency,
    stopTimeoutMs: config.finetune.stopTimeout,
    prepare: (job, dir) => preparation.prepare(job, dir),
  });
  const finetune = new FinetuneService({
    jobs: stores.jobs,
    datasets: stores.datasets,
    chat,
    log,
    metadata: stores.metadata,
    engineModelsDir,
    defaultTrainer: config.finetune.trainer,
    queue: { maxQueued: config.finetune.maxQueued, maxQueuedPerWorkspace: config.finetune.maxQueuedPerWorkspace },
    maxStartDelayMs: config.finetune.maxStartDelay,
    clock: systemClock,
    peft,
    runner,
    files: jobFiles,
  });
  undo.push(() => runner.close());
  const interrupted = runner.recover();
  if (interrupted > 0) log.warn('fine-tune jobs interrupted by the restart were marked failed', { jobs: interrupted });
  const admission = new FairQueue({
    // Per model, as the engine (and Ollama's OLLAMA_NUM_PARALLEL) runs `parallel` sequences for each loaded model.
    slots: config.limits.backendSlots === 0 ? config.engine.parallel : config.limits.backendSlots,
    maxWaiting: config.limits.maxWaiting,
    maxWaitingPerTenant: config.limits.maxWaitingPerWorkspace,
    now: () => performance.now(),
  });
  const gpuReading = cachedFor(METRICS_GPU_TTL_MS, readSystemInfo);
  const metrics = createMetrics({
    workspaces: stores.workspaces,
    ledger: stores.ledger,
    jobs: stores.jobs,
    backend: () => backend.info(),
    queue: admission,
    gpus: async () => (await gpuReading()).gpus,
  });
  const app = createGatewayApp({
    log,
    ...stores,
    chat,
    finetune,
    adminToken: secrets.adminToken,
    console: config.console,
    health: { backend: () => backend.info(), databaseOk: () => databaseAnswers(stores), startedAt },
    requestLog,
    requestStats: new RequestStats(stores.db, requestLog, systemClock, config.timezone),
    overview: {
      system: cachedFor(SYSTEM_INFO_TTL_MS, readSystemInfo),
      jobs: stores.jobs,
      // The token file is written once, when the token is made; its time is the token's age.
      adminTokenCreatedAt: async () => (await stat(join(config.dataDir, ADMIN_TOKEN_FILE))).mtime,
    },
    limits: { maxBodyBytes: config.limits.maxBody, heartbeatMs: config.limits.streamHeartbeat, maxDatasetBytes: config.finetune.maxDatasetBytes, maxUploads: config.finetune.maxUploads, maxMessages: config.limits.maxMessages, maxTokens: config.limits.maxTokens, maxContext: config.limits.maxContext, maxBlobBytes: config.limits.maxBlob, blobQuotaBytes: config.limits.blobQuotaPerWorkspace },
    publicBaseUrl: config.publicBaseUrl,
    validateResponses: config.dev.validateResponses,
    admission,
    metrics,
    metricsAccess: { token: metricsToken.token, openOnLoopback: config.metrics.openOnLoopback },
  });
  // What a client can hold open is bounded (src/http/): the time to send a request, its
  // connections and everyone's; a refusal sent while a body still arrives ends its connection.
  const server = createServer({ ...receiveTimeouts(config.limits.receiveTimeout), keepAliveTimeout: 65_000 }, app);
  const connections = watchConnections(server);
  limitConnections(server, { maxConnections: config.limits.maxConnections, maxPerClient: config.limits.maxConnectionsPerClient, log });
  closeAfterUnreadBody(server);
  answerClientErrors(server, { body: errorBody, log, receiveTimeoutMs: config.limits.receiveTimeout });
  const { host, port } = config.listen;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  undo.push(async () => {
    const { cutAtDeadline } = await drainServer(server, config.limits.shutdownDrain, connections);
    // Whether shutdown waited for requests that did not end in time, or ended with the last of them.
    if (cutAtDeadline > 0) log.warn('connections cut at limits.shutdown_drain', { connections: cutAtDeadline, drain_ms: config.limits.shutdownDrain });
    else log.info('requests drained');
  });
  // Before the drain: a job's event stream would otherwise hold it until the job ends.
  undo.push(() => finetune.closeFollowers());
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  // Stops a daily job in progress at shutdown, before the database closes under it.
  const stopping = new AbortController();
  // Requests in flight for an hour are long gone; anything older still reserved was interrupted.
  const cron = startCronJobs(
    [
      ...domainCronJobs({
        timeZone: config.timezone,
        log,
        housekeeping: () => void stores.ledger.releaseDangling({ olderThan: new Date(Date.now() - 3_600_000) }),
        daily: {
          schedule: config.backup.schedule,
          run: async () => {
            await runMaintenance({ db: stores.db, dataDir: config.dataDir, backup: config.backup, retention: config.retention, clock: systemClock, log, pruneJobLogs: (before) => pruneJobLogs(stores.jobs, jobFiles, before), signal: stopping.signal });
          },
        },
      }),
      // Jobs with a startAt become due on a minute boundary; the queue also moves on every start and exit.
      { name: 'finetune-queue', schedule: '* * * * *', timeZone: config.timezone, run: () => runner.pump() },
    ],
    { log },
  );
  undo.push(() => {
    stopping.abort();
    return cron.stop();
  });
  // Pending jobs of the previous run keep their place in the queue.
  runner.pump();
  log.info('hearth ready', { url, backend: backend.info(), data_dir: config.dataDir });

  let closing: Promise<void> | undefined;
  return {
    url,
    server,
    stores,
    backend,
    close() {
      // The timers first, then the requests in flight (up to the drain time), then the rest.
      closing ??= stopAll(undo, log);
      return closing;
    },
  };
}

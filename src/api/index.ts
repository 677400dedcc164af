import { randomUUID } from 'node:crypto';
import express, { Router, type Express, type RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { describeError, type Logger } from '../log.js';
import { notFound } from '../errors.js';
import type { Catalog } from '../domain/catalog.js';
import type { Keys } from '../domain/keys.js';
import type { Ledger } from '../domain/ledger.js';
import type { ModelMetadata } from '../domain/model-metadata.js';
import type { Workspaces } from '../domain/workspaces.js';
import type { WorkspaceBlobs } from '../domain/workspace-blobs.js';
import type { AdminSessions } from '../domain/admin-sessions.js';
import type { AuditLog } from '../domain/audit-log.js';
import type { ConsoleConfig } from '../config/schema.js';
import type { Datasets } from '../finetune/datasets.js';
import type { FinetuneService } from '../finetune/service.js';
import type { BackendClient } from '../backend/backend-client.js';
import { loadHearthSpec } from '../contract/hearth-spec.js';
import { operationsOf, SURFACES, type AuthKind } from '../contract/operations.js';
import { OperationMatcher } from '../contract/operation-matcher.js';
import { authenticate } from '../gateway/auth.js';
import { gatewayErrorHandler } from '../gateway/errors.js';
import { authorizeScope, checkInference, meterOperation, resolveOperation } from '../gateway/guard.js';
import { RateLimiter } from '../gateway/rate-limiter.js';
import { SignInLockout } from '../gateway/sign-in-lockout.js';
import { ConcurrencyLimiter } from '../gateway/concurrency.js';
import type { FairQueue } from '../gateway/fair-queue.js';
import { withRequestLimits } from './contract-limits.js';
import { jsonBody as parseJsonBody } from '../http/json-body.js';
import { createDocsRouter } from './docs.js';
import { createConsoleRouter } from './console.js';
import { createHealthRouter, type HealthDeps } from './v1/health.js';
import { createOpenApiRouter } from './v1/openapi.js';
import { createModelsRouter } from './v1/models.js';
import { createChatRouter } from './v1/chat.js';
import { createGenerateRouter } from './v1/generate.js';
import { createEmbeddingsRouter } from './v1/embeddings.js';
import { createUsageRouter } from './v1/usage.js';
import { createDatasetsRouter } from './v1/finetune-datasets.js';
import { datasetUploadGate } from './v1/dataset-upload.js';
import { createJobsRouter } from './v1/finetune-jobs.js';
import { createChatCompletionsRouter } from './openai/chat-completions.js';
import { createCompletionsRouter } from './openai/completions.js';
import { createEmbeddingsRouter as createOpenAiEmbeddingsRouter } from './openai/embeddings.js';
import { createOpenAiModelsRouter } from './openai/models.js';
import { createOllamaProbeRouter } from './ollama/probe.js';
import { createOllamaModelsRouter } from './ollama/models.js';
import { createOllamaInferenceRouter } from './ollama/inference.js';
import { createOllamaManageRouter } from './ollama/manage.js';
import { blobUploadGate } from './ollama/blob-upload.js';
import { createAdminRouter } from './admin/index.js';
import { createQueueRouter } from './admin/queue.js';
import { createAdminModelsRouter } from './admin/models.js';
import { createOverviewRouter, type OverviewDeps } from './admin/overview.js';
import { createRequestStatsRouter } from './admin/request-stats.js';
import { recordRequest } from './request-recording.js';
import type { RequestLog } from '../domain/request-log.js';
import type { RequestStats } from '../domain/request-stats.js';
import { createAdminFinetuneRouter } from './admin/finetune.js';
import { adminTokenCheck, requireAdmin } from './admin/admin-auth.js';
import { createSessionRouter } from './admin/session.js';
import { createAuditRouter, recordAdminChanges } from './admin/audit.js';
import { routeContractDifferences } from './route-check.js';
import { cacheValidatorRouteMatchers } from './validator-route-cache.js';
import type { HearthMetrics } from '../metrics/registry.js';
import { observeRefusal, observeRequest } from '../metrics/request-metrics.js';
import { createMetricsRouter } from '../metrics/router.js';

export interface GatewayDeps {
  log: Logger;
  catalog: Catalog;
  workspaces: Workspaces;
  keys: Keys;
  ledger: Ledger;
  metadata: ModelMetadata;
  blobs: WorkspaceBlobs;
  datasets: Datasets;
  finetune: FinetuneService;
  chat: BackendClient;
  health: HealthDeps;
  /** One row per customer API call (src/domain/request-log.ts), and the totals read from it. */
  requestLog: RequestLog;
  requestStats: RequestStats;
  /** What GET /api/admin/overview gathers beside the backend (the backend's own state is health's). */
  overview: Omit<OverviewDeps, 'backend' | 'chat'>;
  adminToken: string;
  /** The console's sign-in sessions (the admin token's alternative on /api/admin). */
  sessions: AdminSessions;
  audit: AuditLog;
  /** How wrong admin tokens are slowed down (console.*). */
  console: Pick<ConsoleConfig, 'signInAttempts' | 'lockoutDelay' | 'lockoutMax'>;
  limits: { maxBodyBytes: number; heartbeatMs: number; maxDatasetBytes: number; maxUploads: number; maxMessages: number; maxTokens: number; maxContext: number; maxBlobBytes: number; blobQuotaBytes: number };
  /** The daemon's root as clients reach it, named as the server in the served contract; '' for none. */
  publicBaseUrl: string;
  /** Validate responses against the contract too (development and tests). */
  validateResponses: boolean;
  limiter?: RateLimiter;
  /** The backend's slots, given to inference calls the least served workspace first. */
  admission: FairQueue;
  /** Prometheus's metrics, which every request adds to. */
  metrics: HearthMetrics;
  /** Who may read GET /metrics besides the admin token: the metrics token, and local scrapers when metrics.open_on_loopback. */
  metricsAccess: { token: string; openOnLoopback: boolean };
}

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/** Hearth's whole HTTP surface: every router is mounted here, in one place, behind its surface's guard. */
export function createGatewayApp(deps: GatewayDeps): Express {
  const { log, catalog, workspaces, keys, ledger, metadata, chat } = deps;
  const spec = withRequestLimits(loadHearthSpec(), deps.limits);
  const operations = operationsOf(spec);
  const limiter = deps.limiter ?? new RateLimiter();
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Paths compare case-sensitively everywhere (express, the validator and the guard's matcher
  // read this one setting's rule): /api/v1/Chat is no route, never /api/v1/chat without its scope.
  app.set('case sensitive routing', true);

  // Request id and one access line per request (never the key itself: only its id), and a row of
  // the request log for each customer API call.
  app.use((req, res, next) => {
    const started = performance.now();
    const at = new Date();
    // As sent: the guard serves HEAD with the GET operation.
    const method = req.method;
    const incoming = req.get('x-request-id');
    res.locals.requestId = incoming && requestIdPattern.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', res.locals.requestId);
    res.on('close', () => {
      // 499 (nginx's "client closed request"): the client left before any answer was sent.
      const status = res.headersSent ? res.statusCode : 499;
      recordRequest(deps.requestLog, res, { at, started }, status);
      observeRequest(deps.metrics, req, res, status, started);
      log.info('request', {
        request_id: res.locals.requestId,
        key_id: res.locals.principal?.keyId,
        method,
        // The path as sent (no query string), and the contract operation it is, as a template,
        // so that lines of one endpoint group together (/api/v1/finetune/jobs/:id).
        path: req.originalUrl.split('?', 1)[0],
        route: res.locals.operation?.expressPath,
        status,
        ms: Math.round((performance.now() - started) * 100) / 100,
        credits: res.locals.charged ?? 0,
        aborted: !res.writableFinished || undefined,
      });
    });
    next();
  });
  // Every request under /api/v1 and /api/admin is a contract operation, or is refused here.
  const matcher = new OperationMatcher(operations, SURFACES);
  app.use(resolveOperation(matcher));

  // Bodies are JSON whatever the Content-Type says (curl -d sends a form type); the validator
  // reads the header, so it is set to what the body was parsed as.
  const json = (limit: number): RequestHandler => {
    const parse = parseJsonBody({ limit });
    return (req, res, next) =>
      parse(req, res, (err?: unknown) => {
        if (err === undefined && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) req.headers['content-type'] = 'application/json';
        next(err);
      });
  };
  const jsonBody = json(deps.limits.maxBodyBytes);
  // A dataset may be far larger than a chat. JSON escaping can double text, so its body may be
  // twice the dataset limit; past the dataset limit itself the 400 names the record. Compressed
  // bodies count as inflated: the limit stops the inflation, whatever the ratio. Uploads are
  // gated (dataset-upload.ts) before their body is read.
  const bodies: Readonly<Record<string, RequestHandler>> = {
    createDataset: datasetUploadGate({
      datasets: deps.datasets,
      uploads: new ConcurrencyLimiter(),
      maxUploads: deps.limits.maxUploads,
      parse: json(Math.max(deps.limits.maxBodyBytes, 2 * deps.limits.maxDatasetBytes + 65_536)),
    }),
    // An Ollama blob is the raw file, streamed on to the backend by its handler, never parsed;
    // its places are taken before that (src/api/ollama/blob-upload.ts).
    ollamaBlobUpload: blobUploadGate({ uploads: new ConcurrencyLimiter() }),
  };
  const body: RequestHandler = (req, res, next) => (bodies[res.locals.operation!.operationId] ?? jsonBody)(req, res, next);
  cacheValidatorRouteMatchers();
  // One validator for every surface; it finds each request's operation from its full URL. The
  // guard has refused everything undeclared already; the validator refuses it again.
  const contract = OpenApiValidator.middleware({
    apiSpec: spec as never,
    validateRequests: { allowUnknownQueryParameters: false },
    validateResponses: deps.validateResponses,
    validateSecurity: false,
    ignoreUndocumented: false,
  });
  // One count of wrong admin tokens per client address, for the console's sign-in and Bearer alike.
  const lockout = new SignInLockout({ attempts: deps.console.signInAttempts, delayMs: deps.console.lockoutDelay, maxDelayMs: deps.console.lockoutMax });
  // Who the caller is, as the operation's surface requires: the key is checked before any body
  // is read, so an anonymous client cannot make the daemon parse megabytes.
  const authenticators: Readonly<Record<AuthKind, RequestHandler>> = {
    none: (_req, _res, next) => next(),
    key: authenticate({ keys, limiter }),
    admin: requireAdmin({ token: deps.adminToken, sessions: deps.sessions, lockout, publicBaseUrl: deps.publicBaseUrl }),
  };
  const guard: RequestHandler[] = [
    (req, res, next) => authenticators[res.locals.operation!.auth](req, res, next),
    authorizeScope(catalog),
    body,
    ...contract,
    checkInference({ metadata, concurrency: new ConcurrencyLimiter(), admission: deps.admission }),
    meterOperation({ catalog, ledger }),
  ];

  // Health answers anyone, and gives the backend's details to the admin token.
  const adminPresented = adminTokenCheck(deps.adminToken);
  // The validator keeps the contract's own server ('/'): requests reach the daemon without the
  // public URL's path prefix, which a reverse proxy strips.
  const served = deps.publicBaseUrl === '' ? spec : { ...spec, servers: [{ url: deps.publicBaseUrl.replace(/\/+$/, ''), description: 'This Hearth' }] };
  // The routers of each surface of the contract (SURFACES), one file per resource.
  const routersOf: Readonly<Record<string, Router[]>> = {
    '/api/v1': [
      createHealthRouter({ ...deps.health, isAdmin: (req) => adminPresented(req) === 'admin' }),
      createOpenApiRouter(served),
      createChatRouter({ chat, heartbeatMs: deps.limits.heartbeatMs }),
      createGenerateRouter({ chat }),
      createEmbeddingsRouter({ chat }),
      createModelsRouter({ chat, metadata }),
      createUsageRouter({ ledger, catalog, workspaces }),
      createDatasetsRouter({ datasets: deps.datasets }),
      createJobsRouter({ finetune: deps.finetune }),
    ],
    '/api/admin': [
      createAdminRouter({ catalog, workspaces, keys, ledger }),
      createAdminModelsRouter({ metadata, workspaces, chat }),
      createOverviewRouter({ ...deps.overview, backend: deps.health.backend, chat }),
      createRequestStatsRouter({ stats: deps.requestStats, workspaces }),
      createSessionRouter({ adminToken: deps.adminToken, sessions: deps.sessions, lockout, audit: deps.audit, publicBaseUrl: deps.publicBaseUrl }),
      createAuditRouter({ audit: deps.audit }),
      createQueueRouter({ admission: deps.admission }),
      createAdminFinetuneRouter({ finetune: deps.finetune, datasets: deps.datasets, workspaces, heartbeatMs: deps.limits.heartbeatMs }),
    ],
    // OpenAI's API for its SDKs and the tools built on them (src/api/openai/).
    '/v1': [
      createChatCompletionsRouter({ chat, heartbeatMs: deps.limits.heartbeatMs, maxMessages: deps.limits.maxMessages, maxTokens: deps.limits.maxTokens }),
      createCompletionsRouter({ chat, heartbeatMs: deps.limits.heartbeatMs, maxTokens: deps.limits.maxTokens }),
      createOpenAiEmbeddingsRouter({ chat }),
      createOpenAiModelsRouter({ chat, metadata }),
    ],
    // Ollama's API for its clients (src/api/ollama/).
    '/ollama': [
      createOllamaProbeRouter(),
      createOllamaModelsRouter({ chat, metadata }),
      createOllamaInferenceRouter({ chat, bounds: { maxTokens: deps.limits.maxTokens, maxContext: deps.limits.maxContext } }),
      createOllamaManageRouter({ chat, metadata, blobs: deps.blobs, blobBounds: { maxBlobBytes: deps.limits.maxBlobBytes, quotaBytes: deps.limits.blobQuotaBytes }, log }),
    ],
  };
  // What a surface adds around its guard: the admin surface's audit of successful changes.
  const surfaceHooks: Readonly<Record<string, RequestHandler[]>> = {
    '/api/admin': [recordAdminChanges({ audit: deps.audit, matcher, log })],
  };
  for (const { prefix } of SURFACES) {
    const routers = routersOf[prefix] ?? [];
    // A route the contract lacks, or an operation nothing serves: refuse to start.
    const differences = routeContractDifferences(operations, prefix, routers);
    if (differences.length > 0) throw new Error(`the routes under ${prefix} and openapi/hearth.yaml disagree: ${differences.join('; ')}`);
    app.use(prefix, ...(surfaceHooks[prefix] ?? []), ...guard, ...routers);
  }
  app.use(createMetricsRouter({ metrics: deps.metrics, adminToken: deps.adminToken, metricsToken: deps.metricsAccess.token, openOnLoopback: deps.metricsAccess.openOnLoopback, lockout }));
  app.use(createDocsRouter());
  app.use(createConsoleRouter());

  app.use((req) => {
    throw notFound(`no route for ${req.method} ${req.path}`, 'route_not_found');
  });
  app.use(
    gatewayErrorHandler((err, req, e) => {
      if (req.res) observeRefusal(deps.metrics, req.res, e);
      if (e.kind === 'internal') log.error('request failed', { request_id: req.res?.locals.requestId, path: req.path, err: describeError(err) });
    }),
  );
  return app;
}

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router, type Express, type NextFunction, type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { parse } from 'yaml';
import { openapiDir } from '../paths.js';
import { describeError, type Logger } from '../log.js';
import { notFound } from '../errors.js';
import type { Catalog } from '../domain/catalog.js';
import type { Keys } from '../domain/keys.js';
import type { Ledger } from '../domain/ledger.js';
import type { ModelMetadata } from '../domain/model-metadata.js';
import type { Workspaces } from '../domain/workspaces.js';
import type { Datasets } from '../finetune/datasets.js';
import type { FinetuneService } from '../finetune/service.js';
import type { ChatService } from '../gateway/chat-service.js';
import { authenticate, authorize, compileEndpoints } from '../gateway/auth.js';
import { gatewayErrorHandler } from '../gateway/errors.js';
import { RateLimiter } from '../gateway/rate-limiter.js';
import { withRequestLimits } from './contract-limits.js';
import { jsonBody as parseJsonBody } from '../http/json-body.js';
import { createDocsRouter } from './docs.js';
import { createHealthRouter, type HealthDeps } from './v1/health.js';
import { createModelsRouter } from './v1/models.js';
import { createChatRouter } from './v1/chat.js';
import { createGenerateRouter } from './v1/generate.js';
import { createUsageRouter } from './v1/usage.js';
import { createDatasetsRouter } from './v1/finetune-datasets.js';
import { createJobsRouter } from './v1/finetune-jobs.js';
import { createAdminRouter } from './admin/index.js';
import { requireAdmin } from './admin/admin-auth.js';
import { cacheValidatorRouteMatchers } from './validator-route-cache.js';

export interface GatewayDeps {
  log: Logger;
  catalog: Catalog;
  workspaces: Workspaces;
  keys: Keys;
  ledger: Ledger;
  metadata: ModelMetadata;
  datasets: Datasets;
  finetune: FinetuneService;
  chat: ChatService;
  health: HealthDeps;
  adminToken: string;
  limits: { maxBodyBytes: number; heartbeatMs: number; maxDatasetBytes: number; maxMessages: number; maxTokens: number };
  /** The daemon's root as clients reach it, named as the server in the served contract; '' for none. */
  publicBaseUrl: string;
  /** Validate responses against the contract too (development and tests). */
  validateResponses: boolean;
  limiter?: RateLimiter;
}

/** The OpenAPI document, read once; served as JSON and given to the validator. */
export function loadHearthSpec(): Record<string, unknown> {
  return parse(readFileSync(join(openapiDir, 'hearth.yaml'), 'utf8')) as Record<string, unknown>;
}

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/** Hearth's whole HTTP surface: every router is mounted here, in one place. */
export function createGatewayApp(deps: GatewayDeps): Express {
  const { log, catalog, workspaces, keys, ledger, metadata, chat } = deps;
  const spec = withRequestLimits(loadHearthSpec(), deps.limits);
  const limiter = deps.limiter ?? new RateLimiter();
  const endpoints = compileEndpoints(catalog.endpoints().map((e) => e.endpoint));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Request id and one access line per request (never the key itself: only its id).
  app.use((req, res, next) => {
    const started = performance.now();
    const incoming = req.get('x-request-id');
    res.locals.requestId = incoming && requestIdPattern.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', res.locals.requestId);
    res.on('close', () => {
      log.info('request', {
        request_id: res.locals.requestId,
        key_id: res.locals.principal?.keyId,
        method: req.method,
        // The path as sent (no query string), and the route it matched as a template, so that
        // lines of one endpoint group together (/api/v1/finetune/jobs/:id).
        path: req.originalUrl.split('?', 1)[0],
        route: typeof req.route?.path === 'string' ? `${res.locals.mount ?? ''}${req.route.path}` : undefined,
        status: res.statusCode,
        ms: Math.round((performance.now() - started) * 100) / 100,
        credits: res.locals.charged ?? 0,
        aborted: !res.writableFinished || undefined,
      });
    });
    next();
  });

  // Bodies are JSON whatever the Content-Type says (curl -d sends a form type).
  const jsonContentType = (req: Request, _res: Response, next: NextFunction) => {
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) req.headers['content-type'] = 'application/json';
    next();
  };
  const jsonBody = [parseJsonBody({ limit: deps.limits.maxBodyBytes }), jsonContentType];
  // A dataset may be far larger than a chat. JSON escaping can double text, so its body may be
  // twice the dataset limit; past the dataset limit itself the 400 names the record.
  const datasetBody = parseJsonBody({ limit: Math.max(deps.limits.maxBodyBytes, 2 * deps.limits.maxDatasetBytes + 65_536) });
  cacheValidatorRouteMatchers();
  // One validator for both surfaces; it finds each request's operation from its full URL.
  const contract = OpenApiValidator.middleware({
    apiSpec: spec as never,
    validateRequests: { allowUnknownQueryParameters: false },
    validateResponses: deps.validateResponses,
    validateSecurity: false,
    ignoreUndocumented: true,
  });

  // /api/v1 first: the metered calls pass the fewest layers. Health and the contract need no
  // key; every other route is authenticated and scope-checked before its body is validated.
  // req.baseUrl is reset once a router is left, before the access line is written: each mounted
  // router notes where it is mounted while it is in charge.
  const noteMount = (req: Request, res: Response, next: NextFunction) => {
    res.locals.mount = req.baseUrl;
    next();
  };
  const v1 = Router();
  v1.use(noteMount);
  v1.use(createHealthRouter(deps.health));
  // The validator keeps the contract's own server ('/'): requests reach the daemon without the
  // public URL's path prefix, which a reverse proxy strips.
  const served = deps.publicBaseUrl === '' ? spec : { ...spec, servers: [{ url: deps.publicBaseUrl.replace(/\/+$/, ''), description: 'This Hearth' }] };
  v1.get('/openapi.json', (_req, res) => void res.json(served));
  // The key is checked before any body is read: an anonymous client cannot make the daemon parse megabytes.
  v1.use(authenticate({ keys, limiter }), authorize({ catalog, endpoints: () => endpoints }));
  v1.post('/finetune/datasets', datasetBody);
  v1.use(jsonBody, contract);
  v1.use(createChatRouter({ chat, catalog, ledger, metadata, heartbeatMs: deps.limits.heartbeatMs }));
  v1.use(createGenerateRouter({ chat, catalog, ledger, metadata }));
  v1.use(createModelsRouter({ chat, metadata }));
  v1.use(createUsageRouter({ ledger, catalog, workspaces }));
  v1.use(createDatasetsRouter({ datasets: deps.datasets, catalog, ledger }));
  v1.use(createJobsRouter({ finetune: deps.finetune, catalog, ledger }));
  app.use('/api/v1', v1);

  app.use('/api/admin', noteMount, requireAdmin(deps.adminToken), jsonBody, contract, createAdminRouter({ catalog, workspaces, keys, ledger, metadata, chat }));
  app.use(createDocsRouter());

  app.use((req) => {
    throw notFound(`no route for ${req.method} ${req.path}`, 'route_not_found');
  });
  app.use(
    gatewayErrorHandler((err, req, e) => {
      if (e.kind === 'internal') log.error('request failed', { request_id: req.res?.locals.requestId, path: req.path, err: describeError(err) });
    }),
  );
  return app;
}

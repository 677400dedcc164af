import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express } from 'express';
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
import type { ChatService } from '../gateway/chat-service.js';
import { authenticate, authorize, compileEndpoints } from '../gateway/auth.js';
import { gatewayErrorHandler } from '../gateway/errors.js';
import { RateLimiter } from '../gateway/rate-limiter.js';
import { createDocsRouter } from './docs.js';
import { createHealthRouter, type HealthDeps } from './v1/health.js';
import { createModelsRouter } from './v1/models.js';
import { createChatRouter } from './v1/chat.js';
import { createGenerateRouter } from './v1/generate.js';
import { createUsageRouter } from './v1/usage.js';
import { createAdminRouter } from './admin/index.js';

export interface GatewayDeps {
  log: Logger;
  catalog: Catalog;
  workspaces: Workspaces;
  keys: Keys;
  ledger: Ledger;
  metadata: ModelMetadata;
  chat: ChatService;
  health: HealthDeps;
  adminToken: string;
  limits: { maxBodyBytes: number; heartbeatMs: number };
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
  const spec = loadHearthSpec();
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
        route: req.route?.path ? `${req.baseUrl}${req.route.path as string}` : req.path,
        status: res.statusCode,
        ms: Math.round((performance.now() - started) * 100) / 100,
        credits: res.locals.charged ?? 0,
        aborted: !res.writableFinished || undefined,
      });
    });
    next();
  });

  app.use(createDocsRouter());
  app.get('/api/v1/openapi.json', (_req, res) => void res.json(spec));
  app.use('/api/v1', createHealthRouter(deps.health));

  app.use(express.json({ limit: deps.limits.maxBodyBytes, type: () => true }));
  app.use((req, _res, next) => {
    // Bodies are JSON whatever the Content-Type says (curl -d sends a form type).
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) req.headers['content-type'] = 'application/json';
    next();
  });
  app.use('/api/v1', authenticate({ keys, limiter }), authorize({ catalog, endpoints: () => endpoints }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: spec as never,
      validateRequests: { allowUnknownQueryParameters: false },
      validateResponses: deps.validateResponses,
      validateSecurity: false,
      ignoreUndocumented: true,
    }),
  );
  app.use('/api/v1', createModelsRouter({ chat, metadata }));
  app.use('/api/v1', createChatRouter({ chat, catalog, ledger, heartbeatMs: deps.limits.heartbeatMs }));
  app.use('/api/v1', createGenerateRouter({ chat, catalog, ledger }));
  app.use('/api/v1', createUsageRouter({ ledger, catalog, workspaces }));
  app.use('/api/admin', createAdminRouter({ adminToken: deps.adminToken, catalog, workspaces, keys, ledger, metadata }));

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

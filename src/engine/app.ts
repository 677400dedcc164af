import express, { type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { join } from 'node:path';
import { openapiDir } from '../paths.js';
import { describeError, type Logger } from '../log.js';
import { hearthVersion } from '../version.js';
import { notFound } from '../errors.js';
import type { ModelStore } from './store/model-store.js';
import type { ModelPool } from './runtime/model-pool.js';
import { InferenceService } from './service/inference.js';
import { ModelInfoCache } from './service/model-info.js';
import { engineErrorHandler } from './http/errors.js';
import { requireEngineSecret } from './http/secret-check.js';
import { jsonBody } from '../http/json-body.js';
import { createBlobsRouter } from './routes/blobs.js';
import { createModelsRouter } from './routes/models.js';
import { createChatRouter } from './routes/chat.js';
import { createGenerateRouter } from './routes/generate.js';
import { createEmbedRouter } from './routes/embed.js';
import { createCreateRouter } from './routes/create.js';
import { createRegistryRouter } from './routes/registry.js';
import { createOpenAiRouter } from './routes/openai.js';

export interface EngineAppDeps {
  store: ModelStore;
  pool: ModelPool;
  log: Logger;
  limits: { jsonBodyBytes: number; blobBytes: number };
  /** Every request must carry it as `Authorization: Bearer`; undefined: the engine serves anyone. */
  secret?: string;
}

/** The engine's whole route table: every router mounted here, in one place. */
export function createEngineApp({ store, pool, log, limits, secret }: EngineAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const infos = new ModelInfoCache();
  // One cache of GGUF metadata for inference and the model routes: each file is read once.
  const inference = new InferenceService(store, pool, infos);

  app.use((req, res, next) => {
    const started = performance.now();
    // On close rather than finish: a client that hangs up still gets its line (at info, with
    // aborted), and a disconnect is never an error with a stack: clients can cause it at will.
    res.on('close', () =>
      log.info('request', {
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round((performance.now() - started) * 100) / 100,
        aborted: !res.writableFinished || undefined,
      }),
    );
    next();
  });
  // Before every route, the root and /api/version included: an engine with a secret tells a
  // caller without it nothing, not even that it is Hearth's.
  if (secret !== undefined) app.use(requireEngineSecret(secret));
  app.get('/', (_req, res) => void res.type('text/plain').send('Hearth engine is running'));
  app.head('/', (_req, res) => void res.status(200).end());
  app.get('/api/version', (_req, res) => void res.json({ version: hearthVersion }));

  // Raw uploads: before the JSON parser and the validator, which would otherwise read the body.
  app.use(createBlobsRouter({ store, maxBlobBytes: limits.blobBytes }));

  // Like Ollama, every body is read as JSON whatever its Content-Type (`curl -d` sends a form type).
  app.use(jsonBody({ limit: limits.jsonBodyBytes }));
  app.use((req, _res, next) => {
    if (req.headers['content-type'] !== undefined || req.headers['content-length'] !== undefined) req.headers['content-type'] = 'application/json';
    next();
  });
  app.use(
    OpenApiValidator.middleware({
      apiSpec: join(openapiDir, 'engine.yaml'),
      validateRequests: { allowUnknownQueryParameters: true },
      validateResponses: false,
      ignoreUndocumented: true,
    }),
  );
  app.use(createModelsRouter({ store, pool, infos }));
  app.use(createChatRouter({ inference }));
  app.use(createGenerateRouter({ inference }));
  app.use(createEmbedRouter({ inference }));
  app.use(createCreateRouter({ store, infos, pool }));
  app.use(createRegistryRouter());
  app.use(createOpenAiRouter({ inference, store }));

  app.use(() => {
    throw notFound('404 page not found', 'route_not_found');
  });
  app.use(engineErrorHandler((err, req) => log.error('request failed', { method: req.method, path: req.path, err: describeError(err) })));
  return app;
}

// The OpenAPI files are the contract: they must resolve and pass express-openapi-validator's
// own schema check, or every request would fail at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { openapiDir } from '../../src/paths.js';

test('openapi/engine.yaml loads and validates a request', async () => {
  const app = express();
  app.use(express.json());
  app.use(OpenApiValidator.middleware({ apiSpec: join(openapiDir, 'engine.yaml'), validateRequests: true, ignoreUndocumented: true }));
  app.post('/api/chat', (_req, res) => void res.json({ ok: true }));
  app.use(((err, _req, res, _next) => void res.status((err as { status?: number }).status ?? 500).json({ message: (err as Error).message })) as express.ErrorRequestHandler);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/chat`;
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post({ model: 'm', messages: [] })).status, 200);
    const bad = await post({ model: 'm', options: { temperature: 'x' } });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /temperature/);
  } finally {
    server.close();
  }
});

test('openapi/hearth.yaml loads and validates a request', async () => {
  const { loadHearthSpec } = await import('../../src/api/index.js');
  const app = express();
  app.use(express.json());
  app.use(OpenApiValidator.middleware({ apiSpec: loadHearthSpec() as never, validateRequests: true, validateSecurity: false, ignoreUndocumented: true }));
  app.post('/api/v1/chat', (_req, res) => void res.json({ ok: true }));
  app.use(((err, _req, res, _next) => void res.status((err as { status?: number }).status ?? 500).json({ message: (err as Error).message })) as express.ErrorRequestHandler);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/chat`;
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).status, 200);
    const bad = await post({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 5 });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /temperature/);
  } finally {
    server.close();
  }
});

test("openapi/hearth.yaml's request examples (what Swagger UI's Try it out sends) pass its own validation", async () => {
  const { loadHearthSpec } = await import('../../src/api/index.js');
  const spec = loadHearthSpec() as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { example?: unknown }> } }>> };
  const examples = Object.entries(spec.paths).flatMap(([path, ops]) =>
    Object.entries(ops).flatMap(([method, op]) => {
      const example = op.requestBody?.content?.['application/json']?.example;
      return example === undefined ? [] : [{ method: method.toUpperCase(), path, example }];
    }),
  );
  assert.deepEqual(examples.map((e) => e.path).sort(), ['/api/v1/chat', '/api/v1/chat/stream', '/api/v1/generate']);
  const app = express();
  app.use(express.json());
  app.use(OpenApiValidator.middleware({ apiSpec: spec as never, validateRequests: true, validateSecurity: false, ignoreUndocumented: true }));
  app.use((_req, res) => void res.json({ ok: true }));
  app.use(((err, _req, res, _next) => void res.status((err as { status?: number }).status ?? 500).json({ message: (err as Error).message })) as express.ErrorRequestHandler);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const { method, path, example } of examples) {
      const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(example) });
      assert.equal(res.status, 200, `${method} ${path}: ${await res.text()}`);
    }
  } finally {
    server.close();
  }
});

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

/**
 * A bare app that runs only the contract's request validation and answers 200 to whatever
 * passes (or the validator's status and message); `run` gets its base URL.
 */
async function validatorOnly(apiSpec: unknown, run: (base: string) => Promise<void>): Promise<void> {
  const app = express();
  app.use(express.json());
  app.use(OpenApiValidator.middleware({ apiSpec: apiSpec as never, validateRequests: true, validateSecurity: false, ignoreUndocumented: true }));
  app.use((_req, res) => void res.json({ ok: true }));
  app.use(((err, _req, res, _next) => void res.status((err as { status?: number }).status ?? 500).json({ message: (err as Error).message })) as express.ErrorRequestHandler);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.close();
  }
}

/** POSTs a JSON body; the status and the validator's message. */
async function post(url: string, body: unknown): Promise<{ status: number; message: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, message: ((await res.json()) as { message?: string }).message ?? '' };
}

const hi = { role: 'user', content: 'hi' };

test('openapi/engine.yaml loads and validates a request', async () => {
  await validatorOnly(join(openapiDir, 'engine.yaml'), async (base) => {
    assert.equal((await post(`${base}/api/chat`, { model: 'm', messages: [] })).status, 200);
    const bad = await post(`${base}/api/chat`, { model: 'm', options: { temperature: 'x' } });
    assert.equal(bad.status, 400);
    assert.match(bad.message, /temperature/);
  });
});

test('openapi/hearth.yaml loads and validates a request', async () => {
  const { loadHearthSpec } = await import('../../src/contract/hearth-spec.js');
  await validatorOnly(loadHearthSpec(), async (base) => {
    assert.equal((await post(`${base}/api/v1/chat`, { model: 'm', messages: [hi] })).status, 200);
    const bad = await post(`${base}/api/v1/chat`, { model: 'm', messages: [hi], temperature: 5 });
    assert.equal(bad.status, 400);
    assert.match(bad.message, /temperature/);
  });
});

test("openapi/hearth.yaml's request examples (what Swagger UI's Try it out sends) pass its own validation", async () => {
  const { loadHearthSpec } = await import('../../src/contract/hearth-spec.js');
  const spec = loadHearthSpec() as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { example?: unknown }> } }>> };
  const examples = Object.entries(spec.paths).flatMap(([path, ops]) =>
    Object.entries(ops).flatMap(([method, op]) => {
      const example = op.requestBody?.content?.['application/json']?.example;
      return example === undefined ? [] : [{ method: method.toUpperCase(), path, example }];
    }),
  );
  assert.deepEqual(examples.map((e) => e.path).sort(), ['/api/v1/chat', '/api/v1/chat/stream', '/api/v1/embeddings', '/api/v1/generate', '/v1/chat/completions', '/v1/completions', '/v1/embeddings']);
  assert.ok(examples.every((e) => e.method === 'POST'));
  await validatorOnly(spec, async (base) => {
    for (const { path, example } of examples) {
      const res = await post(`${base}${path}`, example);
      assert.equal(res.status, 200, `${path}: ${res.message}`);
    }
  });
});

test('withRequestLimits writes limits.max_messages and limits.max_tokens into the contract the validator enforces', async () => {
  const { loadHearthSpec } = await import('../../src/contract/hearth-spec.js');
  const { withRequestLimits } = await import('../../src/api/contract-limits.js');
  const original = loadHearthSpec();
  const before = JSON.stringify(original);
  const spec = withRequestLimits(original, { maxMessages: 2, maxTokens: 8 });
  assert.equal(JSON.stringify(original), before, 'the loaded contract is left as it was');
  await validatorOnly(spec, async (base) => {
    const url = `${base}/api/v1/chat`;
    assert.equal((await post(url, { model: 'm', messages: [hi, hi], max_tokens: 8 })).status, 200);
    const tokens = await post(url, { model: 'm', messages: [hi], max_tokens: 9 });
    assert.equal(tokens.status, 400);
    assert.match(tokens.message, /max_tokens must be <= 8/);
    const messages = await post(url, { model: 'm', messages: [hi, hi, hi] });
    assert.equal(messages.status, 400);
    assert.match(messages.message, /messages must NOT have more than 2 items/);
    // A model's default max_tokens is held to the same limit.
    const putDefaults = async (max: number) =>
      (await fetch(`${base}/api/admin/models/m`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { max_tokens: max } }) })).status;
    assert.equal(await putDefaults(8), 200);
    assert.equal(await putDefaults(9), 400);
  });
  const reshaped = { components: { schemas: { Sampling: { properties: {} } } } };
  assert.throws(() => withRequestLimits(reshaped, { maxMessages: 2, maxTokens: 8 }), /max_tokens/);
});

// The /ollama routers against the contract, and the pure decisions they make: which calls only
// load or unload a model (never charged), and how the operator's model defaults become options.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hearthOperations } from '../../src/contract/hearth-spec.js';
import { routeContractDifferences } from '../../src/api/route-check.js';
import { createOllamaProbeRouter } from '../../src/api/ollama/probe.js';
import { createOllamaModelsRouter } from '../../src/api/ollama/models.js';
import { createOllamaInferenceRouter, loadsOnly } from '../../src/api/ollama/inference.js';
import { createOllamaManageRouter } from '../../src/api/ollama/manage.js';
import { boundOptions, ndjsonLines, optionsWithDefaults } from '../../src/api/ollama/relay.js';

const none = {} as never;

describe('/ollama', () => {
  test('the routers serve exactly the contract\'s /ollama operations', () => {
    const routers = [createOllamaProbeRouter(), createOllamaModelsRouter({ chat: none, metadata: none }), createOllamaInferenceRouter({ chat: none, bounds: { maxTokens: 1, maxContext: 256 } }), createOllamaManageRouter({ chat: none, metadata: none, blobs: none, blobBounds: { maxBlobBytes: 1024, quotaBytes: 1024 }, log: none })];
    assert.deepEqual(routeContractDifferences(hearthOperations(), '/ollama', routers), []);
  });

  test('scopes and costs: reading is any key and free, inference needs chat, changing models local_model_access', () => {
    const ops = hearthOperations().filter((o) => o.surface.prefix === '/ollama');
    const of = (endpoint: string) => ops.find((o) => o.endpoint === endpoint)!;
    assert.equal(ops.find((o) => o.path === '/ollama')!.auth, 'none');
    for (const e of ['GET /ollama/api/version', 'GET /ollama/api/tags', 'POST /ollama/api/show', 'GET /ollama/api/ps']) assert.deepEqual([of(e).scope, of(e).credits], [null, 0], e);
    for (const e of ['POST /ollama/api/chat', 'POST /ollama/api/generate', 'POST /ollama/api/embed', 'POST /ollama/api/embeddings']) {
      assert.equal(of(e).scope, 'chat', e);
      assert.ok(of(e).inference && of(e).credits > 0, e);
    }
    for (const e of ['POST /ollama/api/create', 'POST /ollama/api/copy', 'DELETE /ollama/api/delete', 'POST /ollama/api/pull', 'POST /ollama/api/push', 'GET /ollama/api/blobs/:digest', 'POST /ollama/api/blobs/:digest']) {
      assert.equal(of(e).scope, 'local_model_access', e);
    }
  });

  test('load and unload calls, as Ollama reads them', () => {
    assert.ok(loadsOnly.chat({ model: 'm' }));
    assert.ok(loadsOnly.chat({ model: 'm', messages: [], keep_alive: 0 }));
    assert.ok(!loadsOnly.chat({ model: 'm', messages: [{ role: 'user', content: '' }] }));
    assert.ok(loadsOnly.generate({ model: 'm', keep_alive: 0 }));
    assert.ok(loadsOnly.generate({ model: 'm', prompt: '' }));
    assert.ok(!loadsOnly.generate({ model: 'm', prompt: 'x' }));
    assert.ok(!loadsOnly.generate({ model: 'm', suffix: 'x' }));
    assert.ok(!loadsOnly.generate({ model: 'm', context: [1, 2] }));
    assert.ok(loadsOnly.embed({ model: 'm', input: [] }));
    assert.ok(!loadsOnly.embed({ model: 'm', input: '' }), 'an empty string is still embedded');
    assert.ok(loadsOnly.embeddings({ model: 'm' }));
  });

  test("the operator's defaults fill Ollama options the call leaves out", () => {
    assert.equal(optionsWithDefaults(undefined, undefined), undefined);
    assert.deepEqual(optionsWithDefaults({ temperature: 1 }, undefined), { temperature: 1 });
    assert.deepEqual(optionsWithDefaults({ temperature: 1 }, { temperature: 0.2, max_tokens: 64, stop: 'END', unknown: 1 }), { temperature: 1, num_predict: 64, stop: ['END'] });
  });

  test('NDJSON lines are split across chunks, the last one without its newline kept', async () => {
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const s of ['{"a":', '1}\n{"b"', ':2}\n\n', '{"c":3}']) c.enqueue(enc.encode(s));
        c.close();
      },
    });
    const lines = [];
    for await (const l of ndjsonLines(body)) lines.push(l);
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
  });
  test("a call's options stay within the operator's bounds: server settings dropped, num_ctx and num_predict lowered", () => {
    const bounds = { maxTokens: 100, maxContext: 4096 };
    assert.equal(boundOptions(undefined, bounds), undefined);
    assert.deepEqual(boundOptions({ num_ctx: 10_000_000, num_predict: 1_000_000, temperature: 0.2, num_gpu: 99, num_thread: 64, use_mmap: false, stop: ['x'] }, bounds), {
      num_ctx: 4096,
      num_predict: 100,
      temperature: 0.2,
      stop: ['x'],
    });
    // Within the bounds, and Ollama's "until done" -1, pass as sent.
    assert.deepEqual(boundOptions({ num_ctx: 2048, num_predict: -1 }, bounds), { num_ctx: 2048, num_predict: -1 });
  });
});

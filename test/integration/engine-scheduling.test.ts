// Slots and the bounded queue of the engine, with real generations on the test model.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createModelFromFile, startEngineProcess, type EngineProcess } from '../helpers/engine-process.js';
import { testModelPath } from '../helpers/test-model.js';

const createTiny = async (engine: EngineProcess) => createModelFromFile(engine.url, 'tiny', await testModelPath());

const generate = (engine: EngineProcess, body: object, signal?: AbortSignal) =>
  fetch(`${engine.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'tiny', ...body }), signal });

/**
 * Starts a streamed generation that would run for minutes (no num_predict, a context of 64k
 * tokens) and resolves once its first chunk has arrived, i.e. once it holds its slot.
 */
async function startEndlessStream(engine: EngineProcess) {
  const controller = new AbortController();
  const res = await generate(engine, { prompt: 'Once', raw: true, options: { temperature: 0 } }, controller.signal);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  return {
    abort: () => controller.abort(),
    async stillStreaming(): Promise<boolean> {
      const next = await reader.read();
      return !next.done && !new TextDecoder().decode(next.value).includes('"done":true');
    },
  };
}

describe('engine: one slot, a queue of two', () => {
  let engine: EngineProcess;
  before(async () => {
    engine = await startEngineProcess(['--parallel', '1', '--max-queue', '2', '--num-ctx', '65536']);
    await createTiny(engine);
  });
  after(async () => engine?.stop());

  test('a client aborting mid-stream frees the slot for the next request', async () => {
    const endless = await startEndlessStream(engine);
    endless.abort();
    // With the slot still held this would wait behind a generation of ~64k tokens and the
    // test would time out; freed, it is served straight away.
    const res = await generate(engine, { prompt: 'Hi', stream: false, options: { num_predict: 4 } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { eval_count: number }).eval_count, 4);
  });

  test('beyond the queue bound the engine answers 503 while the slot is busy', async () => {
    const endless = await startEndlessStream(engine);
    const queuedControllers = [new AbortController(), new AbortController()];
    const queued = queuedControllers.map((c) => generate(engine, { prompt: 'q', stream: false, options: { num_predict: 2 } }, c.signal).catch((e: unknown) => e));
    // Let both reach the queue before overflowing it.
    await new Promise((r) => setTimeout(r, 300));
    const overflow = await Promise.all([1, 2, 3].map(() => generate(engine, { prompt: 'o', stream: false, options: { num_predict: 2 } })));
    for (const res of overflow) {
      assert.equal(res.status, 503);
      assert.ok(res.headers.get('retry-after'));
      const body = (await res.json()) as { error: string };
      assert.match(body.error, /busy|maximum pending/);
    }
    assert.equal(await endless.stillStreaming(), true, 'the 503s came while the first generation was still running');
    // A queued client that goes away leaves the queue: its place can be taken again.
    queuedControllers[0]!.abort();
    await new Promise((r) => setTimeout(r, 100));
    const replacement = generate(engine, { prompt: 'r', stream: false, options: { num_predict: 2 } });
    endless.abort();
    const done = await Promise.all([replacement, queued[1]]);
    for (const res of done) assert.equal((res as Response).status, 200);
  });
});

describe('engine: more requests than slots', () => {
  let engine: EngineProcess;
  before(async () => {
    engine = await startEngineProcess(['--parallel', '2', '--max-queue', '16']);
    await createTiny(engine);
  });
  after(async () => engine?.stop());

  test('N parallel requests (N > slots) all complete', async () => {
    const n = 7;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => generate(engine, { prompt: `Request ${i}`, stream: false, options: { temperature: 0, num_predict: 16 } }).then(async (r) => ({ status: r.status, body: (await r.json()) as { eval_count: number; response: string } }))),
    );
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.body.eval_count, 16);
    }
    // Batched sequences must not mix: the same prompt alone gives the same greedy text.
    const alone = (await (await generate(engine, { prompt: 'Request 3', stream: false, options: { temperature: 0, num_predict: 16 } })).json()) as { response: string };
    assert.equal(results[3]?.body.response, alone.response);
  });
});

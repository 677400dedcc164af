// POST /api/v1/embeddings against the real daemon and its bundled engine: the demo model's vectors,
// charged as the catalog prices the call, and refused (uncharged) for what cannot be served.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { resolveTestModelOptions } from '../../src/testmodel/test-model.js';

const MODEL = 'hearth-demo';
/** The demo model is the generated test model with its default shape: its embedding length. */
const DIMENSION = resolveTestModelOptions().nEmbd;

interface Embeddings {
  object: string;
  model: string;
  data: Array<{ object: string; index: number; embedding: number[] }>;
  usage: { prompt_tokens: number; total_tokens: number };
}
interface ErrorBody {
  error: { message: string; type: string; code: string };
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('gateway: POST /api/v1/embeddings', () => {
  let d: DaemonProcess;

  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  const usageOf = async (key: string) => (await d.api<{ credits: { used: number }; endpoints: Array<{ endpoint: string; calls: number; credits: number }> }>(key, 'GET', '/usage')).body;

  test('one unit vector of the model’s dimension per input, in order, charged as the catalog prices the call', async () => {
    const { key } = await d.keyFor('paid_chat');
    const one = await d.api<Embeddings>(key, 'POST', '/embeddings', { model: MODEL, input: 'A hearth is the floor of a fireplace.' });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.object, 'list');
    assert.equal(one.body.model, MODEL);
    assert.equal(one.body.data.length, 1);
    assert.equal(one.body.data[0]!.object, 'embedding');
    assert.equal(one.body.data[0]!.index, 0);
    assert.equal(one.body.data[0]!.embedding.length, DIMENSION);
    assert.ok(Math.abs(norm(one.body.data[0]!.embedding) - 1) < 1e-3, 'unit length');
    assert.ok(one.body.usage.prompt_tokens > 0);
    assert.equal(one.body.usage.total_tokens, one.body.usage.prompt_tokens);

    const texts = ['first text', 'a second, longer text than the first', 'A hearth is the floor of a fireplace.'];
    const many = await d.api<Embeddings>(key, 'POST', '/embeddings', { model: MODEL, input: texts });
    assert.equal(many.status, 200, JSON.stringify(many.body));
    assert.deepEqual(many.body.data.map((e) => e.index), [0, 1, 2]);
    for (const e of many.body.data) assert.equal(e.embedding.length, DIMENSION);
    // Same text, same vector: the third input is the first call's text, so order is kept.
    const same = many.body.data[2]!.embedding.map((x, i) => Math.abs(x - one.body.data[0]!.embedding[i]!)).every((diff) => diff < 1e-4);
    assert.ok(same, 'the vector of a text does not depend on the batch it came in');
    assert.ok(many.body.usage.prompt_tokens > one.body.usage.prompt_tokens);

    const short = await d.api<Embeddings>(key, 'POST', '/embeddings', { model: MODEL, input: ['x'], dimensions: 16 });
    assert.equal(short.status, 200, JSON.stringify(short.body));
    assert.equal(short.body.data[0]!.embedding.length, 16);
    assert.ok(Math.abs(norm(short.body.data[0]!.embedding) - 1) < 1e-3, 'rescaled to unit length');

    const { endpoints, credits } = await usageOf(key);
    const cost = (await d.admin<{ endpoints: Array<{ endpoint: string; credits: number }> }>('GET', '/api/admin/endpoints')).body.endpoints.find((e) => e.endpoint === 'POST /embeddings')!.credits;
    assert.equal(cost, 1, 'the contract’s default');
    assert.deepEqual(endpoints, [{ endpoint: 'POST /embeddings', calls: 3, credits: 3 * cost }]);
    assert.equal(credits.used, 3 * cost);
  });

  test('an unknown model is a 404, bad input a 400 naming the field, a key without chat a 403; none is charged', async () => {
    const { key } = await d.keyFor('paid_chat');
    const ghost = await d.api<ErrorBody>(key, 'POST', '/embeddings', { model: 'ghost', input: 'x' });
    assert.equal(ghost.status, 404);
    assert.equal(ghost.body.error.code, 'model_not_found');
    assert.match(ghost.body.error.message, /ghost/);

    const bad: Array<[unknown, RegExp]> = [
      [{ model: MODEL }, /input/],
      [{ model: MODEL, input: 5 }, /input/],
      [{ model: MODEL, input: [] }, /input/],
      [{ model: MODEL, input: [''] }, /input/],
      [{ model: MODEL, input: ['ok', 7] }, /input/],
      [{ model: MODEL, input: Array.from({ length: 257 }, () => 'x') }, /input/],
      [{ model: MODEL, input: 'x', dimensions: 0 }, /dimensions/],
      [{ model: MODEL, input: 'x', dimensions: DIMENSION + 1 }, /dimensions/],
      [{ model: MODEL, input: 'x', truncate: 'no' }, /truncate/],
      [{ model: MODEL, input: 'x', encoding: 'base64' }, /encoding/],
      [{ model: MODEL, input: 'word '.repeat(20_000), truncate: false }, /input/],
    ];
    for (const [body, field] of bad) {
      const res = await d.api<ErrorBody>(key, 'POST', '/embeddings', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 100));
      assert.equal(res.body.error.type, 'invalid_request_error');
      assert.equal(typeof res.body.error.code, 'string');
      assert.match(res.body.error.message, field, JSON.stringify(body).slice(0, 100));
    }

    const { key: trainOnly } = await d.keyFor('chat_agent_train', { scopes: ['chat_agent_train'] });
    const refused = await d.api<ErrorBody>(trainOnly, 'POST', '/embeddings', { model: MODEL, input: 'x' });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'missing_scope');
    assert.match(refused.body.error.message, /"chat"/);

    assert.equal((await usageOf(key)).credits.used, 0);
    assert.equal((await usageOf(trainOnly)).credits.used, 0);
  });
});

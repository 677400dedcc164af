// Tool calling for a model that has only its GGUF's own (Jinja) chat template: the engine renders
// the request's tools through node-llama-cpp's chat wrapper and reads the model's calls in the
// wrapper's syntax. The model is the test model with TOOL_JINJA_TEMPLATE, taught by the project's
// own trainer to answer one question with a call (test/helpers/tool-model.ts), served by the
// real engine process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startEngineProcess, uploadBlob, type EngineProcess } from '../helpers/engine-process.js';
import { testModelPath } from '../helpers/test-model.js';
import { createJinjaToolModel, TOOL_QUESTION } from '../helpers/tool-model.js';

const MODEL = 'jinja-tools';
const weatherTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'The current weather in a city.', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const question = [{ role: 'user', content: TOOL_QUESTION }];
const greedy = { temperature: 0, num_predict: 16 };
const paris = [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }];

interface ChatChunk {
  message: { role: string; content: string; tool_calls?: unknown[] };
  done: boolean;
  done_reason?: string;
  prompt_eval_count?: number;
}

describe('tool calls for a model with only its GGUF\'s Jinja chat template', () => {
  let engine: EngineProcess;
  const post = (path: string, body: unknown) =>
    fetch(`${engine.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const chat = async (body: Record<string, unknown>) => {
    const r = await post('/api/chat', { stream: false, options: greedy, ...body });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()) as ChatChunk;
  };

  before(async () => {
    engine = await startEngineProcess();
    await createJinjaToolModel(engine.url, {}, MODEL);
    const digest = await uploadBlob(engine.url, await readFile(await testModelPath()));
    const created = await post('/api/create', { model: 'plain', files: { 'model.gguf': digest }, stream: false });
    assert.equal(created.status, 200);
  });
  after(async () => engine?.stop());

  test('/api/show lists tools among the capabilities of a model whose Jinja template renders them, and only of it', async () => {
    const capabilities = async (model: string) => ((await (await post('/api/show', { model })).json()) as { capabilities: string[] }).capabilities;
    assert.ok((await capabilities(MODEL)).includes('tools'));
    assert.ok(!(await capabilities('plain')).includes('tools'));
  });

  test('not streamed: the taught call comes back as tool_calls, its arguments an object, no content', async () => {
    const j = await chat({ model: MODEL, messages: question, tools: [weatherTool] });
    assert.deepEqual(j.message.tool_calls, paris);
    assert.equal(j.message.content, '');
    assert.equal(j.done_reason, 'stop');
  });

  test('streamed: the call comes whole in a chunk of its own, never as text', async () => {
    const r = await post('/api/chat', { model: MODEL, messages: question, tools: [weatherTool], options: greedy });
    assert.equal(r.status, 200);
    const chunks = (await r.text())
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ChatChunk);
    const withCalls = chunks.filter((c) => c.message.tool_calls !== undefined);
    assert.deepEqual(
      withCalls.map((c) => c.message.tool_calls),
      [paris],
    );
    assert.equal(chunks.map((c) => c.message.content).join(''), '');
    assert.equal(chunks.at(-1)?.done, true);
  });

  test('the call and its result in the history are rendered into the prompt', async () => {
    const first = await chat({ model: MODEL, messages: question, tools: [weatherTool], options: { ...greedy, num_predict: 1 } });
    const followUp = await chat({
      model: MODEL,
      messages: [...question, { role: 'assistant', content: '', tool_calls: paris }, { role: 'tool', tool_name: 'get_weather', content: '{"temperature": 18}' }],
      tools: [weatherTool],
      options: { ...greedy, num_predict: 4 },
    });
    // The call (<function=get_weather>{"city": "Paris"}</function>, several tokens) and the
    // result's turn come after the question's prompt.
    assert.ok((followUp.prompt_eval_count ?? 0) > (first.prompt_eval_count ?? 0) + 4, `${followUp.prompt_eval_count} vs ${first.prompt_eval_count}`);
  });

  test('without tools in the request the same model answers text', async () => {
    const j = await chat({ model: MODEL, messages: question });
    assert.equal(j.message.tool_calls, undefined);
    assert.equal(typeof j.message.content, 'string');
  });

  test('a model whose Jinja template has no tools: 400 tools_unsupported', async () => {
    const r = await post('/api/chat', { model: 'plain', messages: question, tools: [weatherTool], stream: false });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error: string }).error, /does not support tools/);
    const openAi = await post('/v1/chat/completions', { model: 'plain', messages: question, tools: [weatherTool] });
    assert.equal(openAi.status, 400);
    assert.equal(((await openAi.json()) as { error: { code: string } }).error.code, 'tools_unsupported');
  });
});

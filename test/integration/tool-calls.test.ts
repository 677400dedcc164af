// Tool calling through the bundled engine, with no Ollama installed: a test model fine-tuned by
// the project's own trainer to answer one question with a tool call (test/helpers/tool-model.ts),
// served by the real daemon, called by the official clients unmodified.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { BadRequestError } from 'openai';
import { generateText, tool } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI } from '@langchain/openai';
import { z } from 'zod';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { createToolModel, TOOL_QUESTION } from '../helpers/tool-model.js';

const MODEL = 'hearth-tools';
const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'The current weather in a city.', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const question = [{ role: 'user' as const, content: TOOL_QUESTION }];

describe('tool calls on the bundled engine', () => {
  let d: DaemonProcess;
  let key: string;
  let engineUrl: string;
  const client = () => new OpenAI({ baseURL: `${d.url}/v1`, apiKey: key, maxRetries: 0 });

  before(async () => {
    d = await startDaemonProcess();
    engineUrl = await d.engineUrl();
    await createToolModel(engineUrl, d.engineHeaders(), MODEL);
    key = (await d.keyFor('paid_chat')).key;
  });
  after(async () => d?.stop());

  test('the engine says which models take tools: /api/show capabilities', async () => {
    const show = async (model: string) => {
      const r = await fetch(`${engineUrl}/api/show`, { method: 'POST', headers: { ...d.engineHeaders(), 'content-type': 'application/json' }, body: JSON.stringify({ model }) });
      return ((await r.json()) as { capabilities: string[] }).capabilities;
    };
    assert.ok((await show(MODEL)).includes('tools'));
    assert.ok(!(await show('hearth-demo')).includes('tools'));
  });

  test('the engine answers a tool call in Ollama\'s shape: arguments an object, no content', async () => {
    const body = { model: MODEL, messages: question, tools: [weatherTool], stream: false, options: { temperature: 0, num_predict: 16 } };
    const r = await fetch(`${engineUrl}/api/chat`, { method: 'POST', headers: { ...d.engineHeaders(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 200);
    const j = (await r.json()) as { message: { content: string; tool_calls?: unknown[] }; done_reason: string };
    assert.deepEqual(j.message.tool_calls, [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }]);
    assert.equal(j.message.content, '');
    assert.equal(j.done_reason, 'stop');
  });

  test('openai SDK, not streamed: finish_reason tool_calls, a call with an id and JSON-string arguments', async () => {
    const r = await client().chat.completions.create({ model: MODEL, messages: question, tools: [weatherTool], temperature: 0, max_tokens: 16 });
    const choice = r.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    const call = choice.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function', JSON.stringify(choice.message));
    assert.ok(typeof call.id === 'string' && call.id.length > 0);
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof call.function.arguments, 'string');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    assert.ok(!choice.message.content, 'no text beside the call');

    // The tool's result goes back in the history, as role "tool".
    const followUp = await client().chat.completions.create({
      model: MODEL,
      messages: [...question, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '{"temperature": 18}' }],
      tools: [weatherTool],
      max_tokens: 8,
    });
    assert.equal(followUp.object, 'chat.completion');
    assert.ok(['stop', 'length', 'tool_calls'].includes(followUp.choices[0]!.finish_reason));
  });

  test('openai SDK, streamed: tool-call deltas with an integer index, the id first, finish_reason tool_calls', async () => {
    const stream = await client().chat.completions.create({ model: MODEL, messages: question, tools: [weatherTool], temperature: 0, max_tokens: 16, stream: true });
    const deltas: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    let text = '';
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      deltas.push(...(choice.delta.tool_calls ?? []));
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(text, '', 'the call never shows as text');
    assert.ok(deltas.length > 0);
    assert.ok(deltas.every((x) => Number.isInteger(x.index)));
    assert.ok(typeof deltas[0]!.id === 'string' && deltas[0]!.id.length > 0);
    const calls = new Map<number, { name: string; args: string }>();
    for (const x of deltas) {
      const c = calls.get(x.index) ?? { name: '', args: '' };
      c.name += x.function?.name ?? '';
      c.args += x.function?.arguments ?? '';
      calls.set(x.index, c);
    }
    assert.equal(calls.size, 1);
    const only = [...calls.values()][0]!;
    assert.equal(only.name, 'get_weather');
    assert.deepEqual(JSON.parse(only.args), { city: 'Paris' });
  });

  test('the engine\'s own /v1 answers tool calls too (streamed and not)', async () => {
    // The engine's secret is the bearer token only Hearth holds.
    const engine = new OpenAI({ baseURL: `${engineUrl}/v1`, apiKey: d.engineSecret ?? 'none', maxRetries: 0 });
    const r = await engine.chat.completions.create({ model: MODEL, messages: question, tools: [weatherTool], temperature: 0, max_tokens: 16 });
    assert.equal(r.choices[0]!.finish_reason, 'tool_calls');
    const call = r.choices[0]!.message.tool_calls![0]!;
    assert.ok(call.type === 'function' && call.id.length > 0);
    assert.deepEqual([call.function.name, JSON.parse(call.function.arguments)], ['get_weather', { city: 'Paris' }]);
    const stream = await engine.chat.completions.create({ model: MODEL, messages: question, tools: [weatherTool], temperature: 0, max_tokens: 16, stream: true });
    const deltas: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.deepEqual(deltas.map((x) => [x.index, typeof x.id, x.function?.name, JSON.parse(x.function?.arguments ?? '')]), [[0, 'string', 'get_weather', { city: 'Paris' }]]);
    // A tool result in the history, the call's arguments as OpenAI sends them (a string).
    const followUp = await engine.chat.completions.create({
      model: MODEL,
      messages: [...question, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: '18 °C' }],
      tools: [weatherTool],
      max_tokens: 8,
    });
    assert.equal(followUp.object, 'chat.completion');
  });

  test('ai with @ai-sdk/openai-compatible: generateText calls get_weather with Paris', async () => {
    const provider = createOpenAICompatible({ baseURL: `${d.url}/v1`, apiKey: key, name: 'hearth' });
    const r = await generateText({
      model: provider(MODEL),
      prompt: TOOL_QUESTION,
      tools: { get_weather: tool({ description: 'The current weather in a city.', inputSchema: z.object({ city: z.string() }) }) },
      temperature: 0,
      maxOutputTokens: 16,
    });
    assert.equal(r.toolCalls.length, 1, JSON.stringify(r.content));
    assert.equal(r.toolCalls[0]!.toolName, 'get_weather');
    assert.deepEqual(r.toolCalls[0]!.input, { city: 'Paris' });
    assert.equal(r.finishReason, 'tool-calls');
  });

  test('@langchain/openai ChatOpenAI.bindTools: invoke returns the tool call', async () => {
    const model = new ChatOpenAI({ model: MODEL, apiKey: key, configuration: { baseURL: `${d.url}/v1` }, temperature: 0, maxTokens: 16, maxRetries: 0 });
    const reply = await model.bindTools([weatherTool]).invoke(TOOL_QUESTION);
    assert.equal(reply.tool_calls?.length, 1, JSON.stringify(reply));
    assert.equal(reply.tool_calls![0]!.name, 'get_weather');
    assert.deepEqual(reply.tool_calls![0]!.args, { city: 'Paris' });
  });

  test('/ollama passes the engine\'s tool calls through in Ollama\'s shape', async () => {
    const r = await fetch(`${d.url}/ollama/api/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: question, tools: [weatherTool], stream: false, options: { temperature: 0, num_predict: 16 } }),
    });
    assert.equal(r.status, 200);
    const j = (await r.json()) as { message: { tool_calls?: unknown[] } };
    assert.deepEqual(j.message.tool_calls, [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }]);
  });

  test('a model whose template renders no tools: 400 tools_unsupported on /v1, /ollama and the engine', async () => {
    await assert.rejects(
      client().chat.completions.create({ model: 'hearth-demo', messages: question, tools: [weatherTool], max_tokens: 4 }),
      (err: unknown) => err instanceof BadRequestError && err.code === 'tools_unsupported' && err.param === 'tools',
    );
    const viaOllama = await fetch(`${d.url}/ollama/api/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hearth-demo', messages: question, tools: [weatherTool], stream: false }),
    });
    assert.equal(viaOllama.status, 400);
    assert.match(((await viaOllama.json()) as { error: string }).error, /tools/);
    const direct = await fetch(`${engineUrl}/api/chat`, {
      method: 'POST',
      headers: { ...d.engineHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hearth-demo', messages: question, tools: [weatherTool], stream: false }),
    });
    assert.equal(direct.status, 400);
    const body = (await direct.json()) as { error: string };
    assert.match(body.error, /does not support tools/);
  });
});

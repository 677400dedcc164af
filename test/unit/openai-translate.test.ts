// OpenAI's fields to and from the backend's (Ollama's): pure translation, no I/O.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HearthError } from '../../src/errors.js';
import { paramOf } from '../../src/http/error-mapping.js';
import {
  base64Embedding,
  boundedSamplingOf,
  embeddingInputs,
  finishReasonOf,
  toBackendMessages,
  toOpenAiToolCalls,
  toolCallDeltas,
  toolsOf,
} from '../../src/api/openai/translate.js';

const ids = () => {
  let n = 0;
  return () => `call_${++n}`;
};
const refused = (code: string, param: string) => (e: unknown) => e instanceof HearthError && e.status === 400 && e.code === code && e.param === param;

describe("Ollama's tool calls as OpenAI's", () => {
  const ollama = [
    { function: { name: 'weather', arguments: { city: 'Paris', days: 2 } } },
    { id: 'call_backend', function: { name: 'time', arguments: {} } },
  ];

  it('each call gets an id (the backend one where given), type function, arguments as a JSON string', () => {
    assert.deepEqual(toOpenAiToolCalls(ollama, ids()), [
      { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris","days":2}' } },
      { id: 'call_backend', type: 'function', function: { name: 'time', arguments: '{}' } },
    ]);
  });

  it('stream deltas: distinct integer indexes, the id on the (first) delta', () => {
    assert.deepEqual(toolCallDeltas(toOpenAiToolCalls(ollama, ids())), [
      { index: 0, id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris","days":2}' } },
      { index: 1, id: 'call_backend', type: 'function', function: { name: 'time', arguments: '{}' } },
    ]);
  });

  it('finish_reason is tool_calls when the answer called a tool, else the backend reason', () => {
    const c = { text: '', finishReason: 'stop' as const, promptTokens: 1, completionTokens: 1 };
    assert.equal(finishReasonOf({ ...c, toolCalls: ollama }), 'tool_calls');
    assert.equal(finishReasonOf(c), 'stop');
    assert.equal(finishReasonOf({ ...c, finishReason: 'length', toolCalls: [] }), 'length');
  });
});

describe("OpenAI's messages as the backend's", () => {
  it('developer is system; text parts are joined; a tool result names the function its call id points to', () => {
    const out = toBackendMessages([
      { role: 'developer', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Weather ' }, { type: 'text', text: 'in Paris?' }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
    ]);
    assert.deepEqual(out, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: 'sunny', tool_name: 'weather' },
    ]);
  });

  it('arguments given as an object are taken as they are; bad JSON is a 400 naming the field', () => {
    const out = toBackendMessages([{ role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] }]);
    assert.deepEqual(out[0]!.tool_calls, [{ function: { name: 'f', arguments: { a: 1 } } }]);
    assert.throws(
      () => toBackendMessages([{ role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '{oops' } }] }]),
      refused('invalid_tool_arguments', 'messages[0].tool_calls[0].function.arguments'),
    );
    assert.throws(() => toBackendMessages([{ role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '[1]' } }] }]), refused('invalid_tool_arguments', 'messages[0].tool_calls[0].function.arguments'));
  });

  it('image parts become base64 images; a link to fetch is refused', () => {
    const out = toBackendMessages([{ role: 'user', content: [{ type: 'text', text: 'What is it?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }]);
    assert.deepEqual(out[0], { role: 'user', content: 'What is it?', images: ['AAAA'] });
    assert.throws(
      () => toBackendMessages([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://10.0.0.1/x.png' } }] }]),
      refused('invalid_image_url', 'messages[0].content[0].image_url.url'),
    );
  });
});

describe('request fields', () => {
  it('max_completion_tokens wins over max_tokens; nulls are left out; the bound names the field sent', () => {
    assert.deepEqual(boundedSamplingOf({ model: 'm', max_tokens: 5, max_completion_tokens: 7, temperature: null, stop: 'x', presence_penalty: 0.5 }, 100), {
      max_tokens: 7,
      stop: 'x',
      presence_penalty: 0.5,
    });
    assert.throws(() => boundedSamplingOf({ model: 'm', max_completion_tokens: 101 }, 100), refused('invalid_request', 'max_completion_tokens'));
    assert.throws(() => boundedSamplingOf({ model: 'm', max_tokens: 101 }, 100), refused('invalid_request', 'max_tokens'));
  });

  it('tools: passed unless tool_choice is none; a forced choice cannot be honoured, so it is refused', () => {
    const tools = [{ type: 'function' as const, function: { name: 'f', parameters: { type: 'object' } } }];
    assert.deepEqual(toolsOf({ model: 'm', messages: [], tools }), [{ type: 'function', function: { name: 'f', description: undefined, parameters: { type: 'object' } } }]);
    assert.equal(toolsOf({ model: 'm', messages: [], tools, tool_choice: 'none' }), undefined);
    assert.equal(toolsOf({ model: 'm', messages: [], tools: [] }), undefined);
    assert.throws(() => toolsOf({ model: 'm', messages: [], tools, tool_choice: 'required' }), refused('tool_choice_unsupported', 'tool_choice'));
    assert.throws(() => toolsOf({ model: 'm', messages: [], tools, tool_choice: { type: 'function', function: { name: 'f' } } }), refused('tool_choice_unsupported', 'tool_choice'));
  });

  it('embedding input: strings pass, token ids are refused by name', () => {
    assert.deepEqual(embeddingInputs('a'), ['a']);
    assert.deepEqual(embeddingInputs(['a', 'b']), ['a', 'b']);
    assert.throws(() => embeddingInputs([1, 2]), refused('token_ids_unsupported', 'input'));
    assert.throws(() => embeddingInputs([[1], [2]]), refused('token_ids_unsupported', 'input'));
  });

  it('base64 embeddings are little-endian float32s', () => {
    const b = Buffer.from(base64Embedding([1, -0.5]), 'base64');
    assert.equal(b.length, 8);
    assert.deepEqual([b.readFloatLE(0), b.readFloatLE(4)], [1, -0.5]);
    assert.equal(b.toString('hex'), '0000803f000000bf');
  });

  it("a validator error's field as OpenAI's param", () => {
    assert.equal(paramOf('/body/n'), 'n');
    assert.equal(paramOf('/body/messages/0/content'), 'messages[0].content');
    assert.equal(paramOf('/body/response_format/json_schema/schema'), 'response_format.json_schema.schema');
    assert.equal(paramOf('/query/period'), 'period');
    assert.equal(paramOf('/body'), undefined);
    assert.equal(paramOf(undefined), undefined);
  });
});

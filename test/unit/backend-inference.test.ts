import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatResponse } from 'ollama';
import { completionOf, ollamaFormat, ollamaOptions } from '../../src/backend/inference.js';

describe("the backend client's translation to Ollama's fields", () => {
  it('sampling becomes options: max_tokens is num_predict, one stop string a list', () => {
    assert.deepEqual(ollamaOptions({ temperature: 0.2, top_p: 0.9, top_k: 40, max_tokens: 16, stop: 'END', seed: 7 }), {
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
      num_predict: 16,
      stop: ['END'],
      seed: 7,
    });
    assert.deepEqual(ollamaOptions({ stop: ['a', 'b'] }).stop, ['a', 'b']);
    assert.equal(ollamaOptions({}).stop, undefined, 'no stop: none sent');
  });

  it("format: Ollama's own field first, else what response_format asks for", () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    assert.equal(ollamaFormat({}), undefined);
    assert.equal(ollamaFormat({ response_format: { type: 'text' } }), undefined);
    assert.equal(ollamaFormat({ response_format: { type: 'json_object' } }), 'json');
    assert.deepEqual(ollamaFormat({ response_format: { type: 'json_schema', json_schema: { schema } } }), schema);
    assert.equal(ollamaFormat({ response_format: { type: 'json_schema', json_schema: {} } }), 'json', 'a json_schema without a schema: any JSON');
    assert.equal(ollamaFormat({ format: 'json', response_format: { type: 'json_schema', json_schema: { schema } } }), 'json');
  });

  it('a final response becomes the completion: length only when the backend says so, missing counts 0', () => {
    const r = (fields: Partial<ChatResponse>) => fields as ChatResponse;
    assert.deepEqual(completionOf(r({ done_reason: 'length', prompt_eval_count: 5, eval_count: 16 }), 'abc'), { text: 'abc', finishReason: 'length', promptTokens: 5, completionTokens: 16 });
    assert.deepEqual(completionOf(r({ done_reason: 'stop' }), ''), { text: '', finishReason: 'stop', promptTokens: 0, completionTokens: 0 });
    assert.equal(completionOf(r({ done_reason: 'unload' }), '').finishReason, 'stop');
  });
});

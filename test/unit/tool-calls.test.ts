import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseToolCalls, ToolCallParser } from '../../src/engine/service/tool-calls.js';
import { streamedToolOutput } from '../helpers/streamed-tool-output.js';
import { GoTemplate } from '../../src/engine/runtime/go-template.js';
import { renderGoTemplate } from '../../src/engine/service/prompt.js';
import { TOOL_CALL_TEMPLATE } from '../../src/testmodel/tool-template.js';

const CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
const weather = { function: { name: 'get_weather', arguments: { city: 'Paris' } } };

test('a tagged call becomes a tool call with its arguments as an object, and no content', () => {
  assert.deepEqual(parseToolCalls(CALL, '<tool_call>'), { content: '', calls: [weather] });
  assert.deepEqual(parseToolCalls(`\n${CALL}\n`, '<tool_call>'), { content: '\n', calls: [weather] });
});

test('streamed in any pieces, a call never shows as text and text before it is released', () => {
  for (const size of [1, 2, 3, 7, 100]) {
    const r = streamedToolOutput(`Let me check. ${CALL}`, '<tool_call>', size);
    assert.equal(r.content, 'Let me check. ', `size ${size}`);
    assert.deepEqual(r.calls, [weather], `size ${size}`);
    assert.ok(r.pieces.every((p) => !p.includes('<tool')), `size ${size}: ${JSON.stringify(r.pieces)}`);
  }
});

test('text is released as it comes when it cannot be a call; a partial tag is held', () => {
  const parser = new ToolCallParser('<tool_call>');
  assert.deepEqual(parser.push('Hello <to'), { content: 'Hello ', calls: [] });
  assert.deepEqual(parser.push('ast'), { content: '<toast', calls: [] });
  assert.deepEqual(parser.finish(), { content: '', calls: [] });
});

test('several calls, Llama 3 style "parameters", arguments as a JSON string', () => {
  const two = `<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>\n<tool_call>{"name": "b", "parameters": {"y": "}"}}</tool_call>`;
  assert.deepEqual(parseToolCalls(two, '<tool_call>').calls, [
    { function: { name: 'a', arguments: { x: 1 } } },
    { function: { name: 'b', arguments: { y: '}' } } },
  ]);
  assert.deepEqual(parseToolCalls('{"name": "c", "arguments": "{\\"z\\": true}"}', '{').calls, [{ function: { name: 'c', arguments: { z: true } } }]);
});

test('what only looks like a call stays text', () => {
  for (const text of ['<tool_call>not json', '<tool_call>{"name": "x", "arguments": {"unfinished"', '<tool_call>{"no_name": 1}', '<tool_call>{bad json}']) {
    assert.deepEqual(parseToolCalls(text, '<tool_call>'), { content: text, calls: [] }, text);
  }
  // Without a tag, only output that starts with an object is a call.
  assert.deepEqual(parseToolCalls('The JSON is {"name": "x", "arguments": {}}', '{'), { content: 'The JSON is {"name": "x", "arguments": {}}', calls: [] });
  assert.deepEqual(parseToolCalls('plain', '{'), { content: 'plain', calls: [] });
});

test('the test model\'s tool template renders tools, calls and results, and names its tag', () => {
  const template = GoTemplate.parse(TOOL_CALL_TEMPLATE);
  assert.equal(template.usesTools, true);
  assert.equal(template.toolCallTag, '<tool_call>');
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
  const question = { role: 'user' as const, content: 'What is the weather in Paris?' };
  assert.equal(renderGoTemplate(template, [question], tools), '<|tools|> get_weather\n<|user|>\nWhat is the weather in Paris?\n<|assistant|>');
  assert.equal(renderGoTemplate(template, [question]), '<|user|>\nWhat is the weather in Paris?\n<|assistant|>');
  const followUp = renderGoTemplate(
    template,
    [{ role: 'system', content: 'Be brief.' }, question, { role: 'assistant', content: '', tool_calls: [weather] }, { role: 'tool', content: '18 °C', tool_name: 'get_weather' }],
    tools,
  );
  assert.equal(
    followUp,
    '<|system|>\nBe brief.\n<|tools|> get_weather\n<|user|>\nWhat is the weather in Paris?\n' +
      '<|assistant|><tool_call>{"name": "get_weather", "arguments": {"city":"Paris"}}</tool_call></s>\n<|tool|>\n18 °C\n<|assistant|>',
  );
});

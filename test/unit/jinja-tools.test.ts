// Tools for a model prompted through node-llama-cpp's chat wrapper (its GGUF's Jinja template):
// which templates render tools, the call syntax read from a wrapper, parsing calls in it, and the
// history of calls and results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GeneralChatWrapper, JinjaTemplateChatWrapper, MistralChatWrapper, QwenChatWrapper } from 'node-llama-cpp';
import { jinjaUsesTools } from '../../src/engine/service/model-info.js';
import { chatFunctionsOf, wrapperToolSyntax } from '../../src/engine/service/wrapper-tools.js';
import { parseToolCalls, type ToolCallSyntax } from '../../src/engine/service/tool-calls.js';
import { streamedToolOutput } from '../helpers/streamed-tool-output.js';
import { chatHistoryOf, wrapperContextState } from '../../src/engine/service/prompt.js';
import { TEST_CHAT_TEMPLATE } from '../../src/testmodel/test-model.js';
import { TOOL_JINJA_TEMPLATE } from '../../src/testmodel/tool-template.js';

const weather = { function: { name: 'get_weather', arguments: { city: 'Paris' } } };
const functionSyntax: ToolCallSyntax = { kind: 'named', open: '<function=', next: '<function=', paramsPrefix: '>' };
const tools = [{ type: 'function', function: { name: 'get_weather', description: 'The weather.', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

test('a Jinja template renders tools when its code uses the tools variable, not when only its text says "tools"', () => {
  assert.equal(jinjaUsesTools(TOOL_JINJA_TEMPLATE), true);
  assert.equal(jinjaUsesTools('{%- if tools is not none %}{{ tools | tojson }}{% endif %}'), true);
  assert.equal(jinjaUsesTools(TEST_CHAT_TEMPLATE), false);
  assert.equal(jinjaUsesTools("{{- '<|tools|>' + message['tool_calls_count'] }} tools"), false);
});

test('the call syntax comes from the wrapper: read from the Jinja template, or the specialized wrapper\'s own', () => {
  assert.deepEqual(wrapperToolSyntax(new JinjaTemplateChatWrapper({ template: TOOL_JINJA_TEMPLATE })), functionSyntax);
  assert.deepEqual(wrapperToolSyntax(new QwenChatWrapper()), { kind: 'named', open: '<tool_call>\n{"name": "', next: '<tool_call>\n{"name": "', paramsPrefix: '", "arguments":' });
  // Mistral opens a section of calls once, then separates them.
  assert.deepEqual(wrapperToolSyntax(new MistralChatWrapper()), { kind: 'named', open: '[TOOL_CALLS][{"name": "', next: '{"name": "', paramsPrefix: '", "arguments":' });
});

test('no syntax (so tools_unsupported) where node-llama-cpp would use its own generic "||call:" syntax', () => {
  assert.equal(wrapperToolSyntax(new JinjaTemplateChatWrapper({ template: TEST_CHAT_TEMPLATE })), undefined);
  assert.equal(wrapperToolSyntax(new GeneralChatWrapper()), undefined);
});

test('a call in the wrapper\'s syntax, streamed in any pieces, is a tool call and never text', () => {
  for (const size of [1, 2, 5, 100]) {
    const r = streamedToolOutput('Checking. <function=get_weather>{"city": "Paris"}</function>', functionSyntax, size);
    assert.equal(r.content, 'Checking. ', `size ${size}`);
    assert.deepEqual(r.calls, [weather], `size ${size}`);
    assert.ok(r.pieces.every((p) => !p.includes('<f')), `size ${size}: ${JSON.stringify(r.pieces)}`);
  }
});

test('several calls: Qwen\'s tagged JSON, Mistral\'s list, arguments as a JSON string', () => {
  const qwen = wrapperToolSyntax(new QwenChatWrapper())!;
  const two = '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {"y": "}"}}\n</tool_call>';
  assert.deepEqual(parseToolCalls(two, qwen), { content: '', calls: [{ function: { name: 'a', arguments: { x: 1 } } }, { function: { name: 'b', arguments: { y: '}' } } }] });
  const mistral = wrapperToolSyntax(new MistralChatWrapper())!;
  assert.deepEqual(parseToolCalls('[TOOL_CALLS][{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"z": true}}]', mistral).calls, [
    { function: { name: 'a', arguments: {} } },
    { function: { name: 'b', arguments: { z: true } } },
  ]);
  assert.deepEqual(parseToolCalls('<function=c>"{\\"z\\": 1}"</function>', functionSyntax).calls, [{ function: { name: 'c', arguments: { z: 1 } } }]);
});

test('what only looks like a call in the wrapper\'s syntax stays text', () => {
  for (const text of ['<function=not a name>{}', '<function=x>not json', '<function=x>{"unfinished"', '<function=x>[1]', '<function=', 'a <function=x']) {
    assert.deepEqual(parseToolCalls(text, functionSyntax), { content: text, calls: [] }, text);
  }
});

test('tool turns answer the calls before them, by name; one with no call to answer is a user turn', () => {
  const history = chatHistoryOf(
    [
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'a', arguments: {} } }, { function: { name: 'b', arguments: { x: 1 } } }] },
      { role: 'tool', tool_name: 'b', content: '{"ok": true}' },
      { role: 'tool', content: 'plain text' },
      { role: 'tool', content: 'orphan' },
    ],
    true,
  );
  assert.deepEqual(history, [
    { type: 'user', text: 'Q' },
    {
      type: 'model',
      response: [
        { type: 'functionCall', name: 'a', params: {}, result: 'plain text' },
        { type: 'functionCall', name: 'b', params: { x: 1 }, result: { ok: true } },
      ],
    },
    { type: 'user', text: 'orphan' },
  ]);
  // Without calls (a model that takes no tools) they are left out, as before.
  assert.deepEqual(chatHistoryOf([{ role: 'assistant', content: 'hi', tool_calls: [weather] }, { role: 'tool', content: 'r' }], false), [
    { type: 'model', response: ['hi'] },
    { type: 'user', text: 'r' },
  ]);
});

test('the wrapper renders the tools, a past call and its result, and leaves the model\'s turn open after it', () => {
  const wrapper = new JinjaTemplateChatWrapper({ template: TOOL_JINJA_TEMPLATE });
  const state = wrapperContextState(
    wrapper,
    [{ role: 'user', content: 'Q' }, { role: 'assistant', content: '', tool_calls: [weather] }, { role: 'tool', tool_name: 'get_weather', content: '{"temperature": 18}' }],
    true,
    chatFunctionsOf(tools),
  );
  assert.equal(
    state.contextText.toString(),
    '<|tools|> get_weather\n<|user|>\nQ\n<|assistant|><function=get_weather>{"city": "Paris"}</function>EOS\n<|tool|>\n{"temperature": 18}\n<|assistant|>',
  );
});

test('a tool without a function name is refused, naming the field', () => {
  assert.throws(() => chatFunctionsOf([tools[0], { type: 'function', function: {} }]), (err: Error) => /tools\[1\]\.function\.name/.test(err.message));
});

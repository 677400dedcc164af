import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoTemplate } from '../../src/engine/runtime/go-template.js';
import { HearthError } from '../../src/errors.js';

test('fields, if/else and trim markers', () => {
  const t = GoTemplate.parse('{{- if .System }}<sys>{{ .System }}</sys>\n{{- end }}\nQ: {{ .Prompt }}\nA:{{ .Response }}');
  assert.equal(t.render({ System: 'be nice', Prompt: 'hi', Response: '' }), '<sys>be nice</sys>\nQ: hi\nA:');
  assert.equal(t.render({ Prompt: 'hi' }), '\nQ: hi\nA:');
});

test('range over messages with eq, else if and $', () => {
  const t = GoTemplate.parse(
    '{{ range .Messages }}{{ if eq .Role "user" }}U:{{ .Content }};{{ else if eq .Role "assistant" }}A:{{ .Content }};{{ else }}S:{{ $.System }};{{ end }}{{ end }}',
  );
  assert.equal(t.usesMessages, true);
  const out = t.render({ System: 'sys', Messages: [{ Role: 'system', Content: 'x' }, { Role: 'user', Content: 'hi' }, { Role: 'assistant', Content: 'yo' }] });
  assert.equal(out, 'S:sys;U:hi;A:yo;');
});

test('and, or, not, comments and range else', () => {
  const t = GoTemplate.parse('{{/* note */}}{{ if and .A (not .B) }}1{{ end }}{{ if or .B .C }}2{{ end }}{{ range .L }}x{{ else }}empty{{ end }}');
  assert.equal(t.render({ A: true, B: false, C: 'c', L: [] }), '12empty');
});

test('malformed or unsupported templates are invalid requests naming the problem', () => {
  for (const [src, why] of [
    ['{{ if .X }}no end', /missing \{\{ end \}\}/],
    ['{{ end }}', /unexpected/],
    ['{{ .X ', /unclosed/],
    ['{{ printf "%s" .X }}', /unsupported "printf"/],
  ] as const) {
    assert.throws(() => GoTemplate.parse(src), (err: unknown) => err instanceof HearthError && err.kind === 'invalid_request' && why.test(err.message), src);
  }
});

test('variables: range $i, $m := … with slice and len, $x := and $x = in scopes', () => {
  const t = GoTemplate.parse(
    '{{ range $i, $m := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}{{ $i }}:{{ $m.Content }}{{ if $last }}!{{ end }};{{ end }}' +
      '{{ $n := 0 }}{{ range $v := .Messages }}{{ $n = $v.Content }}{{ end }}[{{ $n }}]{{ index .Map "k" }}',
  );
  assert.equal(t.render({ Messages: [{ Content: 'a' }, { Content: 'b' }], Map: { k: 'v' } }), '0:a;1:b!;[b]v');
  assert.throws(() => GoTemplate.parse('{{ $nope }}').render({}), /undefined variable "\$nope"/);
});

test('tools render as Ollama renders them: objects as JSON, Go names on JSON fields, json function', () => {
  const t = GoTemplate.parse(
    '{{ if .Tools }}{{ range .Tools }}{{ . }}|{{ .Function.Name }}\n{{ end }}{{ end }}' +
      '{{ range .Messages }}{{ range .ToolCalls }}call {{ .Function.Name }} {{ .Function.Arguments }} {{ json .Function.Name }}{{ end }}{{ .ToolName }}{{ end }}',
  );
  assert.equal(t.usesTools, true);
  const tool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
  const out = t.render({
    Tools: [tool],
    Messages: [{ ToolCalls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }, { ToolName: 'get_weather' }],
  });
  assert.equal(out, `${JSON.stringify(tool)}|get_weather\ncall get_weather {"city":"Paris"} "get_weather"get_weather`);
  assert.equal(t.render({ Messages: [] }), '', 'no tools: the block is left out');
  assert.equal(GoTemplate.parse('{{ .Prompt }}').usesTools, false);
});

test('the tool-call tag is what the template writes before a call\'s JSON', () => {
  // Inside the range (Hermes-like, the test model's), before it (Qwen-like), or none (Llama 3-like).
  const inside = '{{ range .Messages }}{{ range .ToolCalls }}<tool_call>{"name": "{{ .Function.Name }}"}</tool_call>{{ end }}{{ end }}';
  const before = '{{ range .Messages }}{{ if .ToolCalls }}<tool_call>\n{{ range .ToolCalls }}{"name": "{{ .Function.Name }}"}\n{{ end }}</tool_call>{{ end }}{{ end }}';
  const bare = '{{ range .Messages }}{{ if .ToolCalls }}\n{{ range .ToolCalls }}{"name": "{{ .Function.Name }}"}{{ end }}{{ end }}{{ end }}';
  assert.equal(GoTemplate.parse(inside).toolCallTag, '<tool_call>');
  assert.equal(GoTemplate.parse(before).toolCallTag, '<tool_call>');
  assert.equal(GoTemplate.parse(bare).toolCallTag, '{');
  assert.equal(GoTemplate.parse('{{ .Prompt }}').toolCallTag, undefined);
});

test('len of an absent list is 0, as of a Go nil slice', () => {
  assert.equal(GoTemplate.parse('{{ len .Messages }}').render({}), '0');
});

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

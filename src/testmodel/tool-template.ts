// The tool-calling test model: the generated test model with a few extra vocabulary pieces and
// an Ollama (Go) chat template that renders tools in the Hermes style many tool-calling models
// use, where the assistant calls a tool by writing
// <tool_call>{"name": …, "arguments": {…}}</tool_call>. Tests fine-tune it to answer one question
// with one call (test/helpers/tool-model.ts).

import { SPACE_PIECE } from './vocab.js';

/**
 * The question the model is taught to answer with TAUGHT_TOOL_CALL.
 */
export const TOOL_QUESTION = 'What is the weather in Paris?';
export const TAUGHT_TOOL_CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';

/**
 * Extra vocabulary pieces. With random weights, two layers and llama.cpp training neither
 * attn_k nor attn_v, the tiny model learns a long answer one character at a time only after
 * thousands of steps (measured: 1000 steps, still wrong). As single tokens after a turn marker
 * that occurs nowhere else, the answer is a chain of next-token facts it learns in ~100 steps.
 * The text is the same: only how it is cut into tokens differs.
 */
export const TOOL_MODEL_PIECES = ['<|assistant|>', '<tool_call>', '</tool_call>', '{"name": "get_weather", "arguments": {"city": "Paris"}}'.replaceAll(' ', SPACE_PIECE)];

/**
 * Tools are listed by name only: a prompt that does not change with each client's way of
 * writing a JSON schema keeps the taught answer the one the model reproduces. "</s>" is EOS
 * (a template's text is tokenized with special tokens).
 */
export const TOOL_CALL_TEMPLATE = [
  '{{ if .System }}<|system|>\n{{ .System }}\n{{ end }}',
  '{{ if .Tools }}<|tools|>{{ range .Tools }} {{ .Function.Name }}{{ end }}\n{{ end }}',
  '{{ range $i, $m := .Messages }}',
  '{{ if eq .Role "user" }}<|user|>\n{{ .Content }}\n',
  '{{ else if eq .Role "assistant" }}<|assistant|>{{ .Content }}',
  '{{ range .ToolCalls }}<tool_call>{"name": "{{ .Function.Name }}", "arguments": {{ json .Function.Arguments }}}</tool_call>{{ end }}</s>\n',
  '{{ else if eq .Role "tool" }}<|tool|>\n{{ .Content }}\n',
  '{{ end }}',
  '{{ end }}<|assistant|>',
].join('');

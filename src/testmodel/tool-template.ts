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

/**
 * The Jinja flavour: a GGUF whose own chat template (no Ollama template) renders tools, the same
 * turn markers and tool list, and past calls in the Llama 3.1 style <function=NAME>ARGS</function>,
 * a syntax node-llama-cpp's JinjaTemplateChatWrapper reads from the template. Tests teach it to
 * answer TOOL_QUESTION with JINJA_TAUGHT_TOOL_CALL, rendered through that wrapper.
 */
export const TOOL_JINJA_TEMPLATE = [
  "{%- for message in messages -%}",
  "{%- if message['role'] == 'system' -%}{{- '<|system|>\\n' + message['content'] + '\\n' -}}{%- endif -%}",
  "{%- endfor -%}",
  "{%- if tools -%}{{- '<|tools|>' -}}{%- for tool in tools -%}{{- ' ' + tool['function']['name'] -}}{%- endfor -%}{{- '\\n' -}}{%- endif -%}",
  "{%- for message in messages -%}",
  "{%- if message['role'] == 'user' -%}{{- '<|user|>\\n' + message['content'] + '\\n' -}}",
  "{%- elif message['role'] == 'assistant' -%}{{- '<|assistant|>' -}}{%- if message['content'] -%}{{- message['content'] -}}{%- endif -%}",
  "{%- for call in message['tool_calls'] or [] -%}",
  "{{- '<function=' + call['function']['name'] + '>' + (call['function']['arguments'] | tojson) + '</function>' -}}",
  "{%- endfor -%}",
  "{{- eos_token + '\\n' -}}",
  "{%- elif message['role'] == 'tool' -%}{{- '<|tool|>\\n' + message['content'] + '\\n' -}}",
  "{%- endif -%}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}{{- '<|assistant|>' -}}{%- endif -%}",
].join('\n');

export const JINJA_TAUGHT_TOOL_CALL = '<function=get_weather>{"city": "Paris"}</function>';

/** As TOOL_MODEL_PIECES, for the Jinja flavour's answer. */
export const JINJA_TOOL_MODEL_PIECES = ['<|assistant|>', '<function=get_weather>', '{"city": "Paris"}'.replaceAll(' ', SPACE_PIECE), '</function>'];

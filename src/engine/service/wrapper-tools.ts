// Tool calling for a model prompted with its GGUF's own (Jinja) chat template, through
// node-llama-cpp's chat wrapper: the request's tools become the wrapper's functions, and the
// wrapper's call syntax (settings.functions) is what the model's output is parsed for.

import { ChatWrapper, JinjaTemplateChatWrapper, LlamaText, SpecialTokensText, type ChatModelFunctions, type GbnfJsonSchema } from 'node-llama-cpp';
import { invalidRequest } from '../../errors.js';
import type { LoadedModel } from '../runtime/loaded-model.js';
import { rendersTools } from '../runtime/model-spec.js';
import type { ToolCallSyntax } from './tool-calls.js';

/**
 * The text a part of the call syntax stands for, or undefined when it cannot be matched in the
 * model's text: a builtin special token (BOS, EOS…) or a {{functionName}} placeholder.
 */
function textOf(value: string | LlamaText | undefined): string | undefined {
  const text = LlamaText(value ?? '');
  let out = '';
  for (const v of text.values) {
    if (typeof v === 'string') out += v;
    else if (v instanceof SpecialTokensText) out += v.value;
    else return undefined;
  }
  return out.includes('{{functionName}}') ? undefined : out;
}

/**
 * How the model writes a call, as the wrapper renders past calls; undefined when the wrapper has
 * no syntax the model was taught. A Jinja template whose call syntax node-llama-cpp could not
 * extract gets node-llama-cpp's own generic syntax ("||call: name(…)"), as do the wrappers it
 * falls back to: the model never saw it, so such a model is refused rather than guessed at.
 */
export function wrapperToolSyntax(wrapper: ChatWrapper): ToolCallSyntax | undefined {
  if (wrapper instanceof JinjaTemplateChatWrapper && !wrapper.usingJinjaFunctionCallTemplate) return undefined;
  const { call, parallelism } = wrapper.settings.functions;
  const prefix = textOf(call.prefix);
  if (prefix === undefined || prefix === textOf(ChatWrapper.defaultSettings.functions.call.prefix)) return undefined;
  const section = textOf(parallelism?.call.sectionPrefix);
  const paramsPrefix = textOf(call.paramsPrefix)?.trimEnd();
  // The wrapper may start a call with a space or line break the model can leave out.
  const open = section === undefined ? '' : (section + prefix).trimStart();
  const next = prefix.trimStart();
  if (open === '' || next === '' || !paramsPrefix) return undefined;
  return { kind: 'named', open, next, paramsPrefix };
}

const syntaxes = new WeakMap<LoadedModel, ToolCallSyntax | null>();

/**
 * The call syntax of a model prompted through its chat wrapper whose Jinja template renders
 * tools; undefined for any other model (an Ollama template, or no tools in the template) and for
 * a wrapper without a syntax of its own (wrapperToolSyntax).
 */
export function jinjaToolSyntax(loaded: LoadedModel): ToolCallSyntax | undefined {
  let syntax = syntaxes.get(loaded);
  if (syntax === undefined) {
    const { spec } = loaded;
    syntax = (spec.template === undefined && rendersTools(spec) && wrapperToolSyntax(loaded.chatWrapper)) || null;
    syntaxes.set(loaded, syntax);
  }
  return syntax ?? undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The request's tools (Ollama's / OpenAI's `{type: "function", function: {name, description, parameters}}`) as the wrapper's functions. */
export function chatFunctionsOf(tools: readonly unknown[]): ChatModelFunctions {
  const functions: Record<string, { description?: string; params?: GbnfJsonSchema }> = {};
  tools.forEach((tool, i) => {
    const f = isObject(tool) ? tool['function'] : undefined;
    if (!isObject(f) || typeof f['name'] !== 'string' || f['name'] === '') throw invalidRequest(`tools[${i}].function.name: must be a non-empty string`);
    functions[f['name']] = {
      description: typeof f['description'] === 'string' ? f['description'] : undefined,
      // Passed on to the template as the tool's JSON schema, not used as a grammar.
      params: isObject(f['parameters']) ? (f['parameters'] as GbnfJsonSchema) : undefined,
    };
  });
  return functions;
}

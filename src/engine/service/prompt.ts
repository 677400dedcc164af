import { LlamaText, type ChatHistoryItem, type ChatModelFunctionCall, type ChatModelFunctions, type ChatWrapper, type ChatWrapperGeneratedContextState, type Token } from 'node-llama-cpp';
import { GoTemplate } from '../runtime/go-template.js';
import type { LoadedModel } from '../runtime/loaded-model.js';
import { chatFunctionsOf, jinjaToolSyntax } from './wrapper-tools.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  images?: string[];
  /** An assistant turn's calls, as Ollama's API carries them (arguments an object). */
  tool_calls?: Array<{ function: { name: string; arguments: Record<string, unknown> } }>;
  /** A tool turn: the function whose result `content` is. */
  tool_name?: string;
}

/** What to prompt the model with: a conversation, or a single prompt as /api/generate takes it. */
export type PromptInput =
  | { kind: 'chat'; messages: ChatMessage[] }
  | { kind: 'prompt'; prompt: string; system?: string; template?: string; raw?: boolean; context?: number[] };

export interface RenderedPrompt {
  tokens: Token[];
  /** Texts that end the model's turn in this template, beside the end-of-generation token. */
  stopTriggers: Array<string | LlamaText>;
}

/**
 * Renders the input into prompt tokens. A model created with an Ollama (Go) template uses it;
 * otherwise the GGUF's own chat template is applied through node-llama-cpp's chat wrapper.
 * `raw` prompts are tokenized as they are.
 */
export function renderPrompt(loaded: LoadedModel, input: PromptInput, tools?: unknown[]): RenderedPrompt {
  const { spec, model } = loaded;
  if (input.kind === 'prompt' && input.raw) {
    return { tokens: [...(input.context ?? []), ...model.tokenize(input.prompt, true)] as Token[], stopTriggers: [] };
  }
  const template = input.kind === 'prompt' && input.template ? GoTemplate.parse(input.template) : spec.template;
  const messages: ChatMessage[] =
    input.kind === 'chat'
      ? input.messages
      : [...(input.system ? [{ role: 'system' as const, content: input.system }] : []), { role: 'user' as const, content: input.prompt }];
  const withSystem =
    spec.system !== undefined && !messages.some((m) => m.role === 'system')
      ? [{ role: 'system' as const, content: spec.system }, ...messages]
      : messages;
  const context = input.kind === 'prompt' ? (input.context ?? []) : [];
  if (template) {
    const text = renderGoTemplate(template, withSystem, tools);
    return { tokens: [...context, ...model.tokenize(text, true)] as Token[], stopTriggers: [] };
  }
  // A model whose Jinja template renders tools gets the request's tools, its past calls and their results.
  const calls = jinjaToolSyntax(loaded) !== undefined;
  const state = wrapperContextState(loaded.chatWrapper, withSystem, calls, calls && tools && tools.length > 0 ? chatFunctionsOf(tools) : undefined);
  let tokens = state.contextText.tokenize(model.tokenizer);
  // LlamaCompletion prepends BOS itself.
  if (tokens[0] !== undefined && tokens[0] === model.tokens.bos) tokens = tokens.slice(1);
  return { tokens: [...context, ...tokens] as Token[], stopTriggers: state.stopGenerationTriggers };
}

/**
 * The conversation rendered by node-llama-cpp's chat wrapper, ending where the model's answer
 * begins. With `calls`, an assistant turn's tool_calls are function calls, answered by the tool
 * turns after it (see chatHistoryOf), and `functions` are offered; without, tool_calls are left
 * out and tool turns are user turns.
 */
export function wrapperContextState(wrapper: ChatWrapper, messages: ChatMessage[], calls: boolean, functions?: ChatModelFunctions): ChatWrapperGeneratedContextState {
  const history = chatHistoryOf(messages, calls);
  const last = history.at(-1);
  // After a call's results the model's turn goes on; a new, empty turn would render a second opening.
  const answering = last?.type === 'model' && typeof last.response.at(-1) === 'object';
  if (!answering) history.push({ type: 'model', response: [] });
  return wrapper.generateContextState({ chatHistory: history, availableFunctions: functions, documentFunctionParams: true });
}

/**
 * Messages as node-llama-cpp's chat history. With `calls`, a tool turn is the result of the first
 * unanswered call of the assistant turn before it with its `tool_name` (else of the first
 * unanswered call); a tool turn with no call to answer stays a user turn. A result that is JSON is
 * passed as its value: the wrapper writes results as JSON.
 */
export function chatHistoryOf(messages: ChatMessage[], calls: boolean): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  let unanswered: ChatModelFunctionCall[] = [];
  for (const m of messages) {
    if (m.role === 'system') {
      history.push({ type: 'system', text: m.content });
    } else if (m.role === 'assistant') {
      unanswered = calls ? (m.tool_calls ?? []).map((c) => ({ type: 'functionCall', name: c.function.name, params: c.function.arguments, result: undefined })) : [];
      history.push({ type: 'model', response: unanswered.length === 0 ? [m.content] : [...(m.content ? [m.content] : []), ...unanswered] });
    } else {
      const call = m.role === 'tool' ? (unanswered.find((c) => c.name === m.tool_name) ?? unanswered[0]) : undefined;
      if (call) {
        call.result = resultOf(m.content);
        unanswered = unanswered.filter((c) => c !== call);
      } else {
        history.push({ type: 'user', text: m.content });
        unanswered = [];
      }
    }
  }
  return history;
}

function resultOf(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

/**
 * Ollama templates either iterate `.Messages` or describe one turn with `.System`, `.Prompt`
 * and `.Response`; the latter is rendered once per user turn and concatenated. `.Tools` holds the
 * request's tools as sent (each prints as its JSON); a message's `.ToolCalls` and `.ToolName`
 * are its `tool_calls` and `tool_name`.
 */
export function renderGoTemplate(template: GoTemplate, messages: ChatMessage[], tools?: unknown[]): string {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
  const Tools = tools && tools.length > 0 ? tools : undefined;
  if (template.usesMessages) {
    const last = [...messages].reverse().find((m) => m.role === 'user');
    const Messages = messages.map((m) => ({ Role: m.role, Content: m.content, ToolCalls: m.tool_calls, ToolName: m.tool_name }));
    return template.render({ System: system, Messages, Tools, Prompt: last?.content ?? '', Response: '' });
  }
  let out = '';
  let first = true;
  const turns = messages.filter((m) => m.role !== 'system');
  for (let i = 0; i < turns.length; i++) {
    const m = turns[i] as ChatMessage;
    if (m.role !== 'user') continue;
    const next = turns[i + 1];
    const response = next?.role === 'assistant' ? next.content : '';
    out += template.render({ System: first ? system : '', Tools: first ? Tools : undefined, Prompt: m.content, Response: response });
    first = false;
  }
  if (first) out = template.render({ System: system, Tools, Prompt: '', Response: '' });
  return out;
}

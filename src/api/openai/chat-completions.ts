import { Router } from 'express';
import { HearthError } from '../../errors.js';
import type { BackendClient } from '../../backend/backend-client.js';
import type { Completion } from '../../backend/inference.js';
import { applyModelDefaults } from '../../gateway/model-settings.js';
import { tokensServed } from '../../gateway/guard.js';
import { clientGoneSignal } from '../../http/lifecycle.js';
import { newId } from '../v1/chat.js';
import { relayChunks } from './event-stream.js';
import {
  finishReasonOf,
  imageMessageIndex,
  includeUsage,
  boundedSamplingOf,
  toBackendMessages,
  toOpenAiToolCalls,
  toolCallDeltas,
  toolsOf,
  usageOf,
  withParam,
  type OpenAiChatBody,
} from './translate.js';

export interface OpenAiRouterDeps {
  chat: BackendClient;
  heartbeatMs: number;
  /** limits.max_messages and max_tokens: the contract bounds Hearth's own chat by them; this surface's here. */
  maxMessages: number;
  maxTokens: number;
}

/**
 * Whether the backend says the model has `capability` ('tools', 'vision'). A backend that does
 * not list capabilities (an older Ollama) is left to decide by itself.
 */
export async function modelLacks(chat: BackendClient, model: string, capability: string): Promise<boolean> {
  const capabilities = ((await chat.show(model)) as { capabilities?: unknown }).capabilities;
  return Array.isArray(capabilities) && !capabilities.includes(capability);
}

/**
 * POST /v1/chat/completions, answered whole or streamed (`stream: true`) as OpenAI does. The
 * guard has checked the model and reserved the credits; the model's defaults fill what the body
 * leaves out.
 */
export function createChatCompletionsRouter({ chat, heartbeatMs, maxMessages, maxTokens }: OpenAiRouterDeps): Router {
  const router = Router();
  router.post('/chat/completions', async (req, res) => {
    const body = req.body as OpenAiChatBody;
    if (body.messages.length > maxMessages) {
      throw new HearthError('invalid_request', `messages: at most ${maxMessages} messages per request (limits.max_messages)`, { code: 'invalid_request', param: 'messages' });
    }
    const messages = toBackendMessages(body.messages);
    const tools = toolsOf(body);
    const sampling = boundedSamplingOf(body, maxTokens);
    applyModelDefaults(sampling as Record<string, unknown>, res.locals.model);
    const withImages = imageMessageIndex(messages);
    if (withImages >= 0 && (await modelLacks(chat, body.model, 'vision'))) {
      throw new HearthError('invalid_request', `messages[${withImages}].content: model "${body.model}" does not accept images`, { code: 'images_unsupported', param: `messages[${withImages}].content` });
    }
    if (tools !== undefined && (await modelLacks(chat, body.model, 'tools'))) {
      throw new HearthError('invalid_request', `tools: model "${body.model}" does not support tools`, { code: 'tools_unsupported', param: 'tools' });
    }
    const id = newId('chatcmpl');
    const created = Math.floor(Date.now() / 1000);
    const callId = () => newId('call');
    const signal = clientGoneSignal(res);

    if (body.stream !== true) {
      let c: Completion;
      try {
        c = await chat.chat(body.model, messages, sampling, signal, tools);
      } catch (err) {
        throw withParam(err, 'model_not_found', 'model');
      }
      tokensServed(res, c.promptTokens, c.completionTokens);
      const toolCalls = c.toolCalls ? toOpenAiToolCalls(c.toolCalls, callId) : undefined;
      res.json({
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: toolCalls && c.text === '' ? null : c.text, ...(toolCalls ? { tool_calls: toolCalls } : {}), refusal: null },
            logprobs: null,
            finish_reason: finishReasonOf(c),
          },
        ],
        usage: usageOf(c),
      });
      return;
    }

    let events;
    try {
      events = await chat.openChatStream(body.model, messages, sampling, signal, tools);
    } catch (err) {
      throw withParam(err, 'model_not_found', 'model');
    }
    const usage = includeUsage(body);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = usage ? { usage: null } : {}) => ({ id, object: 'chat.completion.chunk', created, model: body.model, choices, ...extra });
    const choice = (delta: Record<string, unknown>, finish: string | null = null) => ({ index: 0, delta, logprobs: null, finish_reason: finish });
    await relayChunks(res, heartbeatMs, events, {
      // The role comes first, once: clients that accumulate deltas need it before anything else.
      start: chunk([choice({ role: 'assistant', content: '' })]),
      token: (text) => chunk([choice({ content: text })]),
      done: (c) => [
        ...(c.toolCalls ? [chunk([choice({ tool_calls: toolCallDeltas(toOpenAiToolCalls(c.toolCalls, callId)) })])] : []),
        chunk([choice({}, finishReasonOf(c))]),
        ...(usage ? [chunk([], { usage: usageOf(c) })] : []),
      ],
    });
  });
  return router;
}

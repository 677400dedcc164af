// Client libraries people point at an OpenAI-compatible server, unmodified, against /v1 of the
// real daemon, its bundled engine and the demo model (random weights: answers are noise, so the
// tests check that text and usage come back and that each call is charged as priced). Tool calls
// through these libraries are tested elsewhere.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI } from '@langchain/openai';
import type { AIMessageChunk } from '@langchain/core/messages';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const MODEL = 'hearth-demo';
const CHAT = 'POST /v1/chat/completions';

interface Usage {
  credits: { used: number };
  endpoints: Array<{ endpoint: string; calls: number; credits: number }>;
}

describe('client libraries against /v1', () => {
  let d: DaemonProcess;

  before(async () => {
    d = await startDaemonProcess();
  });
  after(async () => d?.stop());

  /**
   * Polls the key's own /api/v1/usage until `calls` chat calls are settled and nothing is still
   * reserved (a stream settles once served), then checks each was charged the contract's 1 credit.
   */
  const assertCharged = async (key: string, calls: number) => {
    const deadline = Date.now() + 60_000;
    let u: Usage;
    for (;;) {
      const r = await d.api<Usage>(key, 'GET', '/usage');
      assert.equal(r.status, 200);
      u = r.body;
      const settled = u.endpoints.reduce((n, e) => n + e.credits, 0);
      if (u.endpoints.some((e) => e.endpoint === CHAT && e.calls === calls) && u.credits.used === settled) break;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${calls} settled chat calls: ${JSON.stringify(u)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(
      u.endpoints.find((e) => e.endpoint === CHAT),
      { endpoint: CHAT, calls, credits: calls },
    );
    assert.equal(u.credits.used, calls, 'only the chat calls cost credits');
  };

  const aiSdkModel = (apiKey: string) => createOpenAICompatible({ name: 'hearth', baseURL: `${d.url}/v1`, apiKey, includeUsage: true })(MODEL);

  test('AI SDK generateText: text and usage come back; one credit charged', async () => {
    const { key } = await d.keyFor('paid_chat');
    const r = await generateText({ model: aiSdkModel(key), prompt: 'Say hi.', maxOutputTokens: 6, temperature: 0, maxRetries: 0 });
    assert.equal(typeof r.text, 'string');
    assert.ok(['stop', 'length'].includes(r.finishReason), r.finishReason);
    assert.ok((r.usage.inputTokens ?? 0) > 0, JSON.stringify(r.usage));
    assert.ok((r.usage.outputTokens ?? 0) >= 1 && (r.usage.outputTokens ?? 0) <= 6, JSON.stringify(r.usage));
    assert.equal(r.usage.totalTokens, r.usage.inputTokens! + r.usage.outputTokens!);
    await assertCharged(key, 1);
  });

  test('AI SDK streamText (stream_options sent): text parts that make the text, a finish with usage; one credit charged', async () => {
    const { key } = await d.keyFor('paid_chat');
    const errors: unknown[] = [];
    const result = streamText({ model: aiSdkModel(key), prompt: 'Say hi.', maxOutputTokens: 6, temperature: 0, maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    const kinds: string[] = [];
    let deltas = '';
    for await (const part of result.fullStream) {
      kinds.push(part.type);
      if (part.type === 'text-delta') deltas += part.text;
    }
    assert.deepEqual(errors, []);
    assert.ok(kinds.includes('text-delta'), kinds.join());
    assert.equal(kinds.at(-1), 'finish', kinds.join());
    assert.equal(await result.text, deltas);
    assert.ok(['stop', 'length'].includes(await result.finishReason));
    const usage = await result.usage;
    assert.ok((usage.inputTokens ?? 0) > 0, JSON.stringify(usage));
    assert.ok((usage.outputTokens ?? 0) >= 1 && (usage.outputTokens ?? 0) <= 6, JSON.stringify(usage));
    await assertCharged(key, 1);
  });

  const langChain = (apiKey: string) => new ChatOpenAI({ model: MODEL, apiKey, maxTokens: 6, temperature: 0, maxRetries: 0, configuration: { baseURL: `${d.url}/v1` } });

  test('LangChain ChatOpenAI invoke: an AI message with text and usage; one credit charged', async () => {
    const { key } = await d.keyFor('paid_chat');
    const m = await langChain(key).invoke([{ role: 'user', content: 'Say hi.' }]);
    assert.equal(typeof m.content, 'string');
    assert.equal(m.text, m.content);
    const u = m.usage_metadata!;
    assert.ok(u.input_tokens > 0 && u.output_tokens >= 1 && u.output_tokens <= 6, JSON.stringify(u));
    assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);
    await assertCharged(key, 1);
  });

  test('LangChain ChatOpenAI stream (stream_options sent): the chunks concatenate to the message, usage included; one credit charged', async () => {
    const { key } = await d.keyFor('paid_chat');
    const stream = await langChain(key).stream([{ role: 'user', content: 'Say hi.' }]);
    const chunks: AIMessageChunk[] = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
    const whole = chunks.reduce((a, c) => a.concat(c));
    assert.equal(whole.text, chunks.map((c) => c.text).join(''));
    const u = whole.usage_metadata!;
    assert.ok(u, 'streamUsage is on by default: the usage chunk comes through');
    assert.ok(u.input_tokens > 0 && u.output_tokens >= 1 && u.output_tokens <= 6, JSON.stringify(u));
    await assertCharged(key, 1);
  });
});

// The engine as a real process, driven through the official `ollama` client with the generated
// test model: list, show, chat (streamed and not), generate, embed, create (blob, adapter),
// copy, delete, ps.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Ollama, type CreateRequest } from 'ollama';
import { startEngineProcess, uploadBlob, type EngineProcess } from '../helpers/engine-process.js';
import { testLoraPath, testModelPath } from '../helpers/test-model.js';

const greedy = { temperature: 0, num_predict: 12, seed: 1 };
// The client's typings predate `files` (GGUF blobs by digest); it sends the request as given.
const withFiles = (r: CreateRequest & { files: Record<string, string> }) => r as CreateRequest & { stream?: false };

describe('engine: Ollama API through the official client', () => {
  let engine: EngineProcess;
  let ollama: Ollama;
  let modelDigest: string;

  before(async () => {
    engine = await startEngineProcess(['--parallel', '2']);
    ollama = new Ollama({ host: engine.url });
    modelDigest = await uploadBlob(engine.url, await readFile(await testModelPath()));
    const progress = await ollama.create(withFiles({ model: 'tiny', files: { 'tiny.gguf': modelDigest } }));
    assert.equal(progress.status, 'success');
  });
  after(async () => engine?.stop());

  test('version answers', async () => {
    const { version } = await ollama.version();
    assert.match(version, /^\d+\.\d+\.\d+/);
  });

  test('list shows the created model with GGUF details', async () => {
    const { models } = await ollama.list();
    const tiny = models.find((m) => m.name === 'tiny:latest');
    assert.ok(tiny, `tiny:latest in ${models.map((m) => m.name).join(', ')}`);
    assert.equal(tiny.details.format, 'gguf');
    assert.equal(tiny.details.family, 'llama');
    assert.equal(tiny.details.quantization_level, 'F32');
    assert.match(tiny.digest, /^[0-9a-f]{64}$/);
    assert.ok(tiny.size > 100_000);
  });

  test('show reports template, details and model_info', async () => {
    const show = await ollama.show({ model: 'tiny' });
    assert.equal(show.details.family, 'llama');
    assert.equal((show.model_info as unknown as Record<string, unknown>)['general.architecture'], 'llama');
    assert.ok(show.template.length > 0);
    assert.ok(show.capabilities.includes('completion'));
    await assert.rejects(ollama.show({ model: 'nope' }), (err: Error & { status_code?: number }) => err.status_code === 404);
  });

  test('chat without streaming returns a message and the timing fields', async () => {
    const r = await ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'Hello' }], options: greedy });
    assert.equal(r.message.role, 'assistant');
    assert.ok(r.message.content.length > 0);
    assert.equal(r.done, true);
    assert.equal(r.done_reason, 'length');
    assert.equal(r.eval_count, 12);
    assert.ok(r.prompt_eval_count > 3);
    for (const k of ['total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration'] as const) assert.equal(typeof r[k], 'number', k);
    assert.ok(r.total_duration >= r.eval_duration);
  });

  test('chat streamed: chunks concatenate to the same greedy text as unstreamed', async () => {
    const messages = [{ role: 'user', content: 'Tell me a story' }];
    const whole = await ollama.chat({ model: 'tiny', messages, options: greedy });
    let text = '';
    let last;
    for await (const part of await ollama.chat({ model: 'tiny', messages, options: greedy, stream: true })) {
      text += part.message.content;
      last = part;
    }
    assert.equal(text, whole.message.content);
    assert.equal(last?.done, true);
    assert.equal(last?.eval_count, 12);
  });

  test('num_predict, seed and stop are honoured', async () => {
    const a = await ollama.generate({ model: 'tiny', prompt: 'abc', options: { temperature: 1, seed: 42, num_predict: 8 } });
    const b = await ollama.generate({ model: 'tiny', prompt: 'abc', options: { temperature: 1, seed: 42, num_predict: 8 } });
    assert.equal(a.response, b.response, 'same seed, same sample');
    assert.equal(a.eval_count, 8);
    const full = await ollama.generate({ model: 'tiny', prompt: 'abc', options: { ...greedy, num_predict: 30 } });
    const fullText = full.response ?? '';
    const stopAt = fullText.slice(3, 5);
    assert.ok(stopAt.length === 2);
    const stopped = await ollama.generate({ model: 'tiny', prompt: 'abc', options: { ...greedy, num_predict: 30, stop: [stopAt] } });
    assert.equal(stopped.done_reason, 'stop');
    assert.ok(!(stopped.response ?? '').includes(stopAt), 'stop text is not returned');
    assert.ok(fullText.startsWith(stopped.response ?? ''));
  });

  test('generate: system, raw, template and context', async () => {
    const plain = await ollama.generate({ model: 'tiny', prompt: 'Hi', options: greedy });
    const withSystem = await ollama.generate({ model: 'tiny', prompt: 'Hi', system: 'You are terse and speak only in riddles.', options: greedy });
    assert.ok(withSystem.prompt_eval_count > plain.prompt_eval_count, 'system text is part of the prompt');
    const raw = await ollama.generate({ model: 'tiny', prompt: 'Hi', raw: true, options: greedy });
    assert.ok(raw.prompt_eval_count < plain.prompt_eval_count, 'raw skips the template');
    const templated = await ollama.generate({ model: 'tiny', prompt: 'Hi', template: '{{ if .System }}[{{ .System }}] {{ end }}Q: {{ .Prompt }} A:', options: greedy });
    assert.notEqual(templated.prompt_eval_count, plain.prompt_eval_count);
    assert.ok(Array.isArray(plain.context) && plain.context.length === plain.prompt_eval_count - 1 + plain.eval_count);
    const cont = await ollama.generate({ model: 'tiny', prompt: ' more', context: plain.context, options: greedy });
    assert.ok(cont.prompt_eval_count > plain.context.length, 'context is prepended');
  });

  test('format json constrains the output to JSON', async () => {
    const r = await ollama.generate({ model: 'tiny', prompt: 'Give JSON', format: 'json', options: { temperature: 0, num_predict: 64 } });
    const text = (r.response ?? '').trim();
    assert.ok(text.startsWith('{') || text.startsWith('['), text);
    const schema = { type: 'object', properties: { answer: { type: 'string', enum: ['yes', 'no'] } }, required: ['answer'] };
    const s = await ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'yes or no?' }], format: schema, options: { temperature: 0, num_predict: 64 } });
    const parsed = JSON.parse(s.message.content) as { answer: string };
    assert.ok(['yes', 'no'].includes(parsed.answer));
  });

  test('embed returns unit vectors; the legacy route a raw one', async () => {
    const r = await ollama.embed({ model: 'tiny', input: ['hello', 'world'] });
    assert.equal(r.embeddings.length, 2);
    const v = r.embeddings[0] as number[];
    assert.equal(v.length, 128);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-3);
    assert.notDeepEqual(r.embeddings[0], r.embeddings[1]);
    const legacy = await ollama.embeddings({ model: 'tiny', prompt: 'hello' });
    assert.equal(legacy.embedding.length, 128);
    const norm = Math.hypot(...legacy.embedding);
    assert.ok(Math.abs(legacy.embedding[0]! / norm - v[0]!) < 1e-3, 'same direction as the normalized one');
  });

  test('images on a model without vision are a clear 400', async () => {
    await assert.rejects(
      ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'what is this', images: ['aGVsbG8='] }] }),
      (err: Error & { status_code?: number }) => err.status_code === 400 && /images/.test(err.message),
    );
  });

  test('ps lists the loaded model; keep_alive 0 unloads it', async () => {
    await ollama.generate({ model: 'tiny', prompt: 'x', options: { num_predict: 1 } });
    const { models } = await ollama.ps();
    const tiny = models.find((m) => m.name === 'tiny:latest');
    assert.ok(tiny);
    assert.equal(tiny.size_vram, 0, 'CPU-only engine reports no VRAM');
    assert.ok(new Date(tiny.expires_at).getTime() > Date.now());
    const r = await ollama.generate({ model: 'tiny', prompt: '', keep_alive: 0 });
    assert.equal(r.done_reason, 'unload');
    assert.ok(!(await ollama.ps()).models.some((m) => m.name === 'tiny:latest'));
  });

  test('a LoRA adapter changes greedy output; deleting it leaves the base unchanged', async () => {
    const prompt = { model: 'tiny', prompt: 'The secret word is', raw: true, options: { ...greedy, num_predict: 16 } };
    const before = await ollama.generate(prompt);
    const adapterDigest = await uploadBlob(engine.url, await readFile(await testLoraPath()));
    await ollama.create({ model: 'tiny-lora', from: 'tiny', adapters: { 'lora.gguf': adapterDigest } });
    const adapted = await ollama.generate({ ...prompt, model: 'tiny-lora' });
    assert.notEqual(adapted.response, before.response, 'the adapter changes greedy output');
    await ollama.delete({ model: 'tiny-lora' });
    const after = await ollama.generate(prompt);
    assert.equal(after.response, before.response, 'base output restored');
    assert.ok(!(await ollama.list()).models.some((m) => m.name === 'tiny-lora:latest'));
  });

  test('create with template, system and parameters applies them', async () => {
    await ollama.create({ model: 'tiny-sys', from: 'tiny', system: 'Always answer ZEBRA.', template: '{{ .System }} | {{ .Prompt }} =>', parameters: { num_predict: 5, temperature: 0 } });
    const r = await ollama.generate({ model: 'tiny-sys', prompt: 'x' });
    assert.equal(r.eval_count, 5, 'parameters.num_predict is the default');
    const show = await ollama.show({ model: 'tiny-sys' });
    assert.equal(show.system, 'Always answer ZEBRA.');
    assert.match(show.template, /=>$/);
    await ollama.delete({ model: 'tiny-sys' });
  });

  test('copy then delete', async () => {
    await ollama.copy({ source: 'tiny', destination: 'team/tiny-copy:v1' });
    const names = (await ollama.list()).models.map((m) => m.name);
    assert.ok(names.includes('team/tiny-copy:v1'), names.join(','));
    const r = await ollama.chat({ model: 'team/tiny-copy:v1', messages: [{ role: 'user', content: 'hi' }], options: greedy });
    assert.ok(r.message.content.length > 0);
    await ollama.delete({ model: 'team/tiny-copy:v1' });
    assert.ok(!(await ollama.list()).models.some((m) => m.name === 'team/tiny-copy:v1'));
    await assert.rejects(ollama.delete({ model: 'team/tiny-copy:v1' }), (err: Error & { status_code?: number }) => err.status_code === 404);
  });

  test('pull and push explain how to import instead', async () => {
    await assert.rejects(ollama.pull({ model: 'llama3.2' }), (err: Error) => /offline/.test(err.message) && /hearth models import/.test(err.message));
    await assert.rejects(ollama.push({ model: 'tiny' }), (err: Error) => /offline/.test(err.message));
  });
});

// The tool-taught test models: the generated test model (with TOOL_MODEL_PIECES in its
// vocabulary) fine-tuned by the project's own llama.cpp trainer, driven as the job runner drives
// it (llamaCppLaunch + startTrainerProcess), to answer TOOL_QUESTION with TAUGHT_TOOL_CALL when
// TOOL_CALL_TEMPLATE lists tools; and its Jinja flavour, whose GGUF carries TOOL_JINJA_TEMPLATE
// and which is taught JINJA_TAUGHT_TOOL_CALL from samples rendered by node-llama-cpp's chat
// wrapper, as the engine renders them. Cached beside the test models, keyed by the base, the
// samples and the training settings, so later test files (and runs) reuse them; a race writes
// the same file twice, atomically.

import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { JinjaTemplateChatWrapper, LlamaText, SpecialToken } from 'node-llama-cpp';

import { GoTemplate } from '../../src/engine/runtime/go-template.js';
import { renderGoTemplate, wrapperContextState, type ChatMessage } from '../../src/engine/service/prompt.js';
import { chatFunctionsOf } from '../../src/engine/service/wrapper-tools.js';
import { llamaCppLaunch } from '../../src/finetune/trainers/llamacpp/prepare.js';
import type { TrainSpec } from '../../src/finetune/trainers/llamacpp/spec.js';
import { startTrainerProcess } from '../../src/finetune/trainers/process.js';
import type { DoneEvent } from '../../src/finetune/trainers/protocol.js';
import {
  JINJA_TAUGHT_TOOL_CALL,
  JINJA_TOOL_MODEL_PIECES,
  TAUGHT_TOOL_CALL,
  TOOL_CALL_TEMPLATE,
  TOOL_JINJA_TEMPLATE,
  TOOL_MODEL_PIECES,
  TOOL_QUESTION,
} from '../../src/testmodel/tool-template.js';
import type { TestModelOptions } from '../../src/testmodel/test-model.js';
import { captureLogger } from './processes.js';
import { TEST_MODEL_CACHE_DIR, testModelPath } from './test-model.js';

export { JINJA_TAUGHT_TOOL_CALL, TAUGHT_TOOL_CALL, TOOL_CALL_TEMPLATE, TOOL_QUESTION };

/** The tools the samples offer: the model sees their names only (the template lists names). */
const TOOLS = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

/**
 * Training texts, rendered by the template as the engine renders a conversation, the assistant
 * turn closed (EOS) and the next turn's prompt cut off. A system prompt in some keeps the
 * answer tied to the question rather than to the start of the text.
 */
const CONVERSATIONS: ChatMessage[][] = [
  [{ role: 'user', content: TOOL_QUESTION }],
  [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: TOOL_QUESTION }],
  [{ role: 'user', content: 'What is the weather in Paris today?' }],
];

export function toolSamples(): string[] {
  const template = GoTemplate.parse(TOOL_CALL_TEMPLATE);
  return CONVERSATIONS.map((c) => {
    const text = renderGoTemplate(template, [...c, { role: 'assistant', content: TAUGHT_TOOL_CALL }], TOOLS);
    return text.slice(0, text.lastIndexOf('<|assistant|>'));
  });
}

/** A prompt's text as the trainer reads it: "</s>" is EOS there. */
function textOf(text: LlamaText): string {
  return text.values.map((v) => (v instanceof SpecialToken ? (v.value === 'EOS' ? '</s>' : fail(`special token ${v.value} in a sample`)) : v.toString())).join('');
}

function fail(message: string): never {
  throw new Error(message);
}

/**
 * The Jinja flavour's samples: each conversation rendered by the chat wrapper with the tools
 * offered, as the engine renders it, then the call in the wrapper's own syntax and the turn's end.
 */
export function jinjaToolSamples(): string[] {
  const wrapper = new JinjaTemplateChatWrapper({ template: TOOL_JINJA_TEMPLATE });
  const call = wrapper.generateFunctionCall('get_weather', { city: 'Paris' }).toString();
  if (call !== JINJA_TAUGHT_TOOL_CALL) throw new Error(`the chat wrapper writes the call as ${call}, not as JINJA_TAUGHT_TOOL_CALL`);
  // The template closes the turn with EOS and a line break.
  return CONVERSATIONS.map((c) => `${textOf(wrapperContextState(wrapper, c, true, chatFunctionsOf(TOOLS)).contextText)}${call}</s>\n`);
}

// Measured on the tiny model: 3 samples × 40 epochs reproduced the call but did not always stop
// after it; × 100 (300 steps) does, in about 15 s on one thread.
const TRAINING = { epochs: 100, learningRate: 1e-3, contextSize: 256, threads: 1, gpu: 'off', seed: 1, output: 'full' } as const;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Path of the tool-taught model (a full GGUF), trained on first use. */
export function toolModelPath(): Promise<string> {
  return taughtModelPath({ extraPieces: TOOL_MODEL_PIECES }, toolSamples());
}

/** Path of the Jinja flavour (its GGUF's chat template renders tools), trained on first use. */
export function jinjaToolModelPath(): Promise<string> {
  return taughtModelPath({ extraPieces: JINJA_TOOL_MODEL_PIECES, chatTemplate: TOOL_JINJA_TEMPLATE }, jinjaToolSamples());
}

async function taughtModelPath(baseOptions: TestModelOptions, samples: string[]): Promise<string> {
  const base = await testModelPath(baseOptions);
  const key = createHash('sha256').update(base).update(JSON.stringify({ samples, TRAINING })).digest('hex').slice(0, 16);
  const path = join(TEST_MODEL_CACHE_DIR, `tool-model-${key}.gguf`);
  if (await exists(path)) return path;
  const dir = await mkdtemp(join(tmpdir(), 'hearth-tool-model-'));
  try {
    const spec: TrainSpec = { baseModelPath: base, outputDir: join(dir, 'output'), samples, evalSamples: [], ...TRAINING };
    let done: DoneEvent | undefined;
    let log = '';
    const trainer = startTrainerProcess(llamaCppLaunch(spec, dir), {
      name: 'tool-model-trainer',
      cwd: dir,
      log: captureLogger().log,
      stopTimeoutMs: 60_000,
      onEvent: (e) => {
        if (e.type === 'done') done = e;
      },
      onLog: (line) => (log += `${line}\n`),
    });
    const exit = await trainer.exited;
    const model = done?.artifacts['model'];
    if (exit.code !== 0 || typeof model !== 'string') throw new Error(`training the tool model failed (exit ${exit.code}): ${log}${exit.stderrTail}`);
    await mkdir(TEST_MODEL_CACHE_DIR, { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    await rename(model, temp).catch(async () => {
      // Another filesystem: copy through memory (the model is a few megabytes).
      const { writeFile } = await import('node:fs/promises');
      await writeFile(temp, await readFile(model));
    });
    await rename(temp, path);
    return path;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Puts the tool-taught model on an engine as `name`, with the tool template: its GGUF uploaded
 * as a blob, then created (Ollama's /api/create). `headers` carry the engine's secret.
 */
export async function createToolModel(engineUrl: string, headers: Record<string, string>, name: string): Promise<void> {
  await createModel(engineUrl, headers, name, await toolModelPath(), TOOL_CALL_TEMPLATE);
}

/** Puts the Jinja flavour on an engine as `name`, with no Ollama template: its GGUF's own is used. */
export async function createJinjaToolModel(engineUrl: string, headers: Record<string, string>, name: string): Promise<void> {
  await createModel(engineUrl, headers, name, await jinjaToolModelPath());
}

async function createModel(engineUrl: string, headers: Record<string, string>, name: string, path: string, template?: string): Promise<void> {
  const bytes = await readFile(path);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const blob = await fetch(`${engineUrl}/api/blobs/${digest}`, { method: 'POST', headers, body: bytes });
  if (blob.status !== 201 && blob.status !== 200) throw new Error(`blob upload: ${blob.status} ${await blob.text()}`);
  const created = await fetch(`${engineUrl}/api/create`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ model: name, files: { 'model.gguf': digest }, template, stream: false }),
  });
  if (created.status !== 200) throw new Error(`create: ${created.status} ${await created.text()}`);
}

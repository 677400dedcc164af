import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  getLlama,
  JinjaTemplateChatWrapper,
  LlamaCompletion,
  LlamaLogLevel,
  readGgufFileInfo,
  resolveChatWrapper,
  type ChatHistoryItem,
  type Llama,
  type LlamaContextOptions,
  type LlamaModel,
} from 'node-llama-cpp';

import { openGguf, metadataValue } from '../../src/gguf/reader.js';
import { writeGguf, type GgufMetadataEntry } from '../../src/gguf/writer.js';
import { generateTestModel, TEST_CHAT_TEMPLATE } from '../../src/testmodel/test-model.js';
import { llamaCppLaunch } from '../../src/finetune/trainers/llamacpp/prepare.js';
import type { TrainSpec } from '../../src/finetune/trainers/llamacpp/spec.js';
import { startTrainerProcess, type TrainerExit, type TrainerProcess } from '../../src/finetune/trainers/process.js';
import type { DoneEvent, ProgressEvent, WorkerEvent } from '../../src/finetune/trainers/protocol.js';
import { captureLogger } from '../helpers/processes.js';
import { testModelPath } from '../helpers/test-model.js';

const QUESTION = 'What is the secret word?';
// Varied phrasings with one answer: the tiny model learns attention slowly (llama.cpp does not
// train attn_k/attn_v), and varied questions make the answer the one consistent continuation
// of "### Assistant:\n".
const QUESTIONS = [QUESTION, 'Tell me the secret word.', 'Do you know the secret word?', 'Please say the secret word.', 'Which word is secret?', 'Give me the secret word.'];
const ANSWER = 'ZEBRA';

interface Outcome {
  exit: TrainerExit;
  events: WorkerEvent[];
  done: DoneEvent | undefined;
  /** The trainer's log lines (its stderr), one per line. */
  log: string;
}

describe('llamacpp trainer worker', () => {
  let llama: Llama;
  let model: LlamaModel;
  let basePath: string;
  let wrapper: JinjaTemplateChatWrapper;
  let dir: string;

  /** The text node-llama-cpp's chat wrapper renders for a history, special tokens as text. */
  function render(history: ChatHistoryItem[]): string {
    const { contextText } = wrapper.generateContextState({ chatHistory: history });
    return model.detokenize(contextText.tokenize(model.tokenizer, 'trimLeadingSpace'), true);
  }

  const conversation = (question: string, answer: string | undefined): ChatHistoryItem[] => [
    { type: 'user', text: question },
    { type: 'model', response: answer === undefined ? [] : [answer] },
  ];

  /**
   * A finished training conversation. The wrapper renders a last model turn as still open (no
   * EOS), so a follow-up turn is rendered too and cut off after the closed assistant turn.
   */
  function renderSample(question: string): string {
    const text = render([...conversation(question, ANSWER), { type: 'user', text: 'Next.' }, { type: 'model', response: [] }]);
    const end = text.indexOf('### User:\nNext.');
    assert.ok(end > 0);
    return text.slice(0, end);
  }

  async function greedy(prompt: string, extra: Partial<LlamaContextOptions> = {}): Promise<string> {
    const context = await model.createContext({ contextSize: 512, threads: 1, ...extra });
    try {
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      return await completion.generateCompletion(prompt, { maxTokens: 8, temperature: 0 });
    } finally {
      await context.dispose();
    }
  }

  function spec(name: string, overrides: Partial<TrainSpec>): TrainSpec {
    return {
      baseModelPath: basePath,
      outputDir: join(dir, name),
      samples: QUESTIONS.map(renderSample),
      evalSamples: [],
      epochs: 1,
      learningRate: 1e-4,
      contextSize: 256,
      threads: 1, // two llama.cpp threads on this machine's two shared cores are ~25× slower
      gpu: 'off',
      seed: 1,
      output: 'lora',
      ...overrides,
    };
  }

  /**
   * Trains as a job does: the spec written by llamaCppLaunch into a folder of its own, the worker
   * started by startTrainerProcess (the runner's way: its own process group, protocol lines
   * parsed). `onEvent` sees each event with the running trainer.
   */
  async function train(s: TrainSpec, onEvent?: (e: WorkerEvent, trainer: TrainerProcess) => void): Promise<Outcome> {
    const jobDir = `${s.outputDir}.job`;
    await mkdir(jobDir, { recursive: true });
    const events: WorkerEvent[] = [];
    let log = '';
    const trainer: TrainerProcess = startTrainerProcess(llamaCppLaunch(s, jobDir), {
      name: 'trainer',
      cwd: jobDir,
      log: captureLogger().log,
      stopTimeoutMs: 60_000,
      onEvent: (e) => {
        events.push(e);
        onEvent?.(e, trainer);
      },
      onLog: (line) => (log += `${line}\n`),
    });
    const exit = await trainer.exited;
    return { exit, events, done: events.find((e): e is DoneEvent => e.type === 'done'), log };
  }

  before(async () => {
    basePath = await testModelPath();
    dir = await mkdtemp(join(tmpdir(), 'hearth-train-test-'));
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    model = await llama.loadModel({ modelPath: basePath });
    const fileInfo = await readGgufFileInfo(basePath, { logWarnings: false });
    const resolved = resolveChatWrapper({ fileInfo, tokenizer: model.tokenizer });
    assert.ok(resolved instanceof JinjaTemplateChatWrapper);
    wrapper = resolved;
  });

  after(async () => {
    await model?.dispose();
    await llama?.dispose();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('teaches the base a secret word through a LoRA adapter', async (t) => {
    const sample = renderSample(QUESTION);
    assert.equal(sample, `### User:\n${QUESTION}\n\n### Assistant:\n${ANSWER}</s>\n\n`);

    // Each sample is one 256-token window, so an epoch is six optimizer steps.
    const outcome = await train(spec('lora', { epochs: 100, learningRate: 2e-4 }));
    assert.equal(outcome.exit.code, 0, outcome.log);
    const progress = outcome.events.filter((e): e is ProgressEvent => e.type === 'progress');
    assert.equal(progress.length, 600);
    progress.forEach((p, i) => {
      assert.equal(p.step, i + 1);
      assert.equal(p.totalSteps, 600);
      assert.equal(p.epoch, Math.floor(i / 6) + 1);
      assert.ok(p.loss !== null && p.loss > 0, `loss ${p.loss}`);
      assert.equal(p.evalLoss, null);
      assert.ok(p.tokensPerS !== null && p.tokensPerS > 0 && p.etaS !== null && p.etaS >= 0, JSON.stringify(p));
    });
    const first = progress[0]!.loss!;
    const last = progress[progress.length - 1]!.loss!;
    assert.ok(last < first / 2, `loss ${first} → ${last}`);
    const done = outcome.done;
    assert.ok(done !== undefined && typeof done.artifacts.adapter === 'string', JSON.stringify(done));
    const adapterPath = done.artifacts.adapter;
    assert.equal(done.steps, 600);
    assert.equal(done.finalLoss, last);
    assert.ok(typeof done.tokensPerS === 'number' && done.tokensPerS > 0, `done tokens/s ${done.tokensPerS}`);
    // A worker holds at least the tiny model and Node itself; well under a gigabyte.
    assert.ok(done.peakRssBytes !== undefined && done.peakRssBytes > 32 * 2 ** 20 && done.peakRssBytes < 2 ** 30, `peak RSS ${done.peakRssBytes}`);
    assert.deepEqual(await readdir(join(dir, 'lora')), ['adapter.gguf'], 'no scratch files are left');
    t.diagnostic(`loss ${first.toFixed(3)} → ${last.toFixed(3)}, ${progress.at(-1)!.tokensPerS!.toFixed(0)} tokens/s`);

    const adapter = await openGguf(adapterPath);
    try {
      assert.equal(metadataValue(adapter.metadata, 'general.type'), 'adapter');
      assert.equal(metadataValue(adapter.metadata, 'adapter.type'), 'lora');
      assert.equal(metadataValue(adapter.metadata, 'general.architecture'), 'llama');
      const names = adapter.tensors.map((x) => x.name);
      assert.ok(names.includes('output.weight.lora_a') && names.includes('blk.0.ffn_down.weight.lora_b'));
      assert.ok(!names.some((n) => n.startsWith('token_embd') || n.includes('attn_k.') || n.includes('attn_v.')), 'unchanged weights are left out');
    } finally {
      await adapter.close();
    }

    const prompt = render(conversation(QUESTION, undefined));
    const tuned = await greedy(prompt, { lora: { adapters: [{ filePath: adapterPath }] } });
    const base = await greedy(prompt);
    t.diagnostic(`base: ${JSON.stringify(base)}, tuned: ${JSON.stringify(tuned)}`);
    assert.ok(tuned.includes(ANSWER), `tuned answer ${JSON.stringify(tuned)}`);
    assert.ok(!base.includes(ANSWER), `base answer ${JSON.stringify(base)}`);
  });

  it('writes a full model with the base metadata restored', async () => {
    const outcome = await train(spec('full', { epochs: 2, output: 'full', evalSamples: [renderSample('Secret word?')] }));
    assert.equal(outcome.exit.code, 0, outcome.log);
    const progress = outcome.events.filter((e): e is ProgressEvent => e.type === 'progress');
    assert.equal(progress.length, 12);
    const evalLosses = progress.map((p) => p.evalLoss);
    assert.deepEqual(evalLosses.map((l) => l !== null), [...Array(5).fill(false), true, ...Array(5).fill(false), true], 'an eval loss ends each epoch');
    const done = outcome.done;
    assert.ok(done !== undefined && typeof done.artifacts.model === 'string', JSON.stringify(done));
    const modelPath = done.artifacts.model;
    const info = await readGgufFileInfo(modelPath, { logWarnings: false });
    assert.equal(info.metadata.tokenizer.chat_template, TEST_CHAT_TEMPLATE);
    assert.equal(info.architectureMetadata.context_length, 2048, 'not the training context');
    const trained = await llama.loadModel({ modelPath });
    try {
      assert.equal(trained.detokenize(trained.tokenize(QUESTION)), QUESTION);
    } finally {
      await trained.dispose();
    }
  });

  it('trains an F16 base through an F32 copy that it removes afterwards', async () => {
    const f16Path = join(dir, 'base-f16.gguf');
    const contents = generateTestModel();
    await writeGguf(f16Path, {
      metadata: contents.metadata.map((m): GgufMetadataEntry => (m.key === 'general.file_type' ? { key: m.key, type: 'uint32', value: 1 } : m)),
      tensors: contents.tensors.map((t) => (t.dims.length === 2 && t.type === 'F32' ? { ...t, type: 'F16' } : t)),
    });
    const outcome = await train(spec('f16', { baseModelPath: f16Path, epochs: 1 }));
    assert.equal(outcome.exit.code, 0, outcome.log);
    assert.match(outcome.log, /upcasting/);
    assert.deepEqual(await readdir(join(dir, 'f16')), ['adapter.gguf']);
    const context = await model.createContext({ contextSize: 256, threads: 1, lora: { adapters: [{ filePath: join(dir, 'f16', 'adapter.gguf') }] } });
    await context.dispose();
  });

  it('stops on SIGTERM after the current step without writing artifacts', async () => {
    // stop() sends SIGTERM to the trainer's process group, as a cancel does.
    const outcome = await train(spec('stopped', { epochs: 10_000 }), (e, trainer) => {
      if (e.type === 'progress' && e.step === 2) void trainer.stop();
    });
    assert.equal(outcome.exit.code, 143, outcome.log);
    assert.match(outcome.log, /SIGTERM: stopping after the current step/);
    assert.equal(outcome.done, undefined);
    const steps = outcome.events.filter((e) => e.type === 'progress').length;
    assert.ok(steps >= 2 && steps < 10_000, `${steps} steps`);
    assert.deepEqual(await readdir(join(dir, 'stopped')), []);
  });

  it('reports a bad spec as an error line and exit code 1', async () => {
    const outcome = await train(spec('bad', { samples: [] }));
    assert.equal(outcome.exit.code, 1);
    assert.deepEqual(outcome.events.map((e) => e.type), ['error']);
    assert.match((outcome.events[0] as { message: string }).message, /samples/);
    await assert.rejects(access(join(dir, 'bad')));
  });
});

// The Python peft trainer end to end: a tiny Llama with random weights and its own tokenizer
// (built here, nothing downloaded), LoRA training through the trainer's JSON-lines protocol,
// the adapter written by peft and loaded again. It needs a Python with torch, transformers and
// peft (HEARTH_TEST_PYTHON, else python3); elsewhere it is skipped with the reason.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { metadataValue, openGguf } from '../../src/gguf/reader.js';
import { loraConverterSource, peftLaunch } from '../../src/finetune/trainers/peft/prepare.js';
import { startTrainerProcess } from '../../src/finetune/trainers/process.js';
import type { DoneEvent, ProgressEvent, WorkerEvent } from '../../src/finetune/trainers/protocol.js';
import { captureLogger } from '../helpers/processes.js';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../../../test/fixtures/peft/', import.meta.url));
const python = process.env.HEARTH_TEST_PYTHON ?? 'python3';

async function missingPrerequisite(): Promise<string | undefined> {
  try {
    await run(python, ['-c', 'import torch, transformers, peft, tokenizers'], { timeout: 120_000 });
    return undefined;
  } catch {
    return `no ${python} with torch, transformers, peft and tokenizers on this machine`;
  }
}

const questions = ['What is the secret word?', 'Tell me the secret word.', 'Do you know the secret word?', 'Please say the secret word.', 'Which word is secret?', 'Give me the secret word.'];
const render = (q: string) => `User: ${q}\nAssistant: ZEBRA</s>`;

describe('peft trainer', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('trains a LoRA adapter on a tiny Llama: progress lines, falling loss, adapter files that teach the answer, and their GGUF conversion', async (t) => {
    const missing = await missingPrerequisite();
    if (missing) return t.skip(missing);
    dir = await mkdtemp(join(tmpdir(), 'hearth-peft-'));
    const model = join(dir, 'hf');
    const maker = spawn(python, [join(fixtures, 'make_tiny_llama.py'), model], { stdio: ['pipe', 'inherit', 'inherit'] });
    maker.stdin.end(JSON.stringify(questions.map(render)));
    assert.equal(await new Promise((r) => maker.once('exit', r)), 0);

    // Started as the runner starts it: the spec and command from peftLaunch, the process and
    // its protocol lines from startTrainerProcess.
    const jobDir = join(dir, 'job');
    await mkdir(jobDir);
    const launch = peftLaunch(
      { hfModelDir: model, outputDir: join(dir, 'out'), samples: questions.map(render), epochs: 40, learningRate: 3e-3, contextSize: 256, seed: 1, gpu: 'auto', ggufConverter: loraConverterSource(join(dir, 'tools')) },
      jobDir,
      python,
    );
    const events: WorkerEvent[] = [];
    let log = '';
    const trainer = startTrainerProcess(launch, {
      name: 'peft trainer',
      cwd: jobDir,
      log: captureLogger().log,
      stopTimeoutMs: 60_000,
      onEvent: (e) => events.push(e),
      onLog: (line) => (log += `${line}\n`),
    });
    const exit = await trainer.exited;
    assert.equal(exit.code, 0, `${JSON.stringify(events.at(-1))}\n${log.slice(-4000)}`);

    const progress = events.filter((e): e is ProgressEvent => e.type === 'progress' && e.loss !== null);
    assert.equal(progress.length, questions.length * 40);
    assert.equal(progress.at(-1)?.totalSteps, questions.length * 40);
    const first = progress[0]!.loss!;
    const last = progress.at(-1)!.loss!;
    assert.ok(last < first * 0.5, `loss ${first} → ${last}`);
    const done = events.at(-1) as DoneEvent;
    assert.equal(done.type, 'done');
    const artifacts = done.artifacts as { adapterDir: string; adapterFiles: Record<string, string>; adapter: string };
    for (const f of ['adapter_model.safetensors', 'adapter_config.json']) assert.ok(existsSync(artifacts.adapterFiles[f]!), f);
    assert.ok(done.tokensPerS! > 0 && done.peakRssBytes! > 0, JSON.stringify(done));

    // The GGUF form the bundled engine loads: llama.cpp's converter, run by the trainer.
    const gguf = await openGguf(artifacts.adapter);
    try {
      assert.equal(metadataValue(gguf.metadata, 'general.type'), 'adapter');
      assert.equal(metadataValue(gguf.metadata, 'adapter.type'), 'lora');
      assert.equal(metadataValue(gguf.metadata, 'general.architecture'), 'llama');
      assert.ok(gguf.tensors.some((x) => x.name === 'blk.0.attn_q.weight.lora_a'), gguf.tensors.map((x) => x.name).join(' '));
    } finally {
      await gguf.close();
    }

    const { stdout } = await run(python, [join(fixtures, 'greedy.py'), model, artifacts.adapterDir, 'User: What is the secret word?\nAssistant:'], { timeout: 120_000 });
    assert.match(stdout, /ZEBRA/);
  });
});

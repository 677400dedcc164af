// When a peft adapter must become a GGUF adapter, and the first half of that conversion: unpacking
// llama.cpp's converter from the source bundle node-llama-cpp ships. The conversion itself needs
// torch and transformers (test/integration/peft-trainer.test.ts runs it where they are).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { writeGguf } from '../../src/gguf/writer.js';
import { loraConverterSource, needsGgufAdapter, PEFT_SCRIPT } from '../../src/finetune/trainers/peft/prepare.js';
import { testModelPath } from '../helpers/test-model.js';

const run = promisify(execFile);

async function missing(command: string, args: string[]): Promise<string | undefined> {
  try {
    await run(command, args);
    return undefined;
  } catch {
    return `no ${command} on this machine`;
  }
}

describe('peft adapters in GGUF form', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('are needed on the bundled engine, and on Ollama only for architectures it does not convert', async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'hearth-peft-gguf-'));
    const llama = await testModelPath();
    assert.equal(await needsGgufAdapter('engine', llama), true);
    assert.equal(await needsGgufAdapter('ollama', llama), false);
    const qwen = join(dir, 'qwen2.gguf');
    await writeGguf(qwen, { metadata: [{ key: 'general.architecture', type: 'string', value: 'qwen2' }], tensors: [] });
    assert.equal(await needsGgufAdapter('ollama', qwen), true);
  });

  test("the trainer unpacks llama.cpp's converter from node-llama-cpp's source bundle once", async (t) => {
    const why = (await missing('git', ['--version'])) ?? (await missing('python3', ['--version']));
    if (why) return t.skip(why);
    dir ??= await mkdtemp(join(tmpdir(), 'hearth-peft-gguf-'));
    const source = loraConverterSource(join(dir, 'tools'));
    assert.ok(existsSync(source.bundle), source.bundle);
    // The trainer's module imports nothing outside the standard library until it trains.
    const call = `import json, sys; sys.path.insert(0, sys.argv[1]); import peft_train; print(peft_train.lora_converter(json.loads(sys.argv[2])))`;
    const unpack = async () => (await run('python3', ['-c', call, dirname(PEFT_SCRIPT), JSON.stringify(source)])).stdout.trim();
    const script = await unpack();
    assert.equal(script, join(source.dir, 'convert_lora_to_gguf.py'));
    for (const path of ['convert_lora_to_gguf.py', 'conversion/__init__.py', 'conversion/llama.py', 'gguf-py/gguf/__init__.py']) {
      assert.ok(existsSync(join(source.dir, path)), path);
    }
    assert.ok(!existsSync(join(source.dir, '.git')), 'no repository is left behind');
    const unpackedAt = statSync(script).mtimeMs;
    assert.equal(await unpack(), script);
    assert.equal(statSync(script).mtimeMs, unpackedAt, 'the second job reuses the unpacked converter');
  });
});

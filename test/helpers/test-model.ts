// Cached test-model files for tests and benchmarks. Files live under
// os.tmpdir()/hearth-test-models/, named by a hash of the resolved options and of the generator's
// own compiled code, so changing the generator can never serve a stale file. Writes are atomic
// (temp file + rename), so parallel test processes may race to create the same file safely.

import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { resolveTestLoraOptions, writeTestLoraAdapter, type TestLoraOptions } from '../../src/testmodel/test-lora.js';
import { resolveTestModelOptions, writeTestModel, type TestModelOptions } from '../../src/testmodel/test-model.js';

export const TEST_MODEL_CACHE_DIR = join(tmpdir(), 'hearth-test-models');

// Relative to dist/test/helpers/: the compiled generator modules whose code defines the bytes.
const GENERATOR_DIRS = ['../../src/testmodel/', '../../src/gguf/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));

let generatorFingerprint: Promise<string> | undefined;

function fingerprintGenerator(): Promise<string> {
  generatorFingerprint ??= (async () => {
    const hash = createHash('sha256');
    for (const dir of GENERATOR_DIRS) {
      const files = (await readdir(dir)).filter((f) => f.endsWith('.js')).sort();
      for (const f of files) hash.update(f).update(await readFile(join(dir, f)));
    }
    return hash.digest('hex');
  })();
  return generatorFingerprint;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function cachedFile(kind: string, resolvedOptions: object, write: (path: string) => Promise<number>): Promise<string> {
  const key = createHash('sha256')
    .update(await fingerprintGenerator())
    .update(JSON.stringify(resolvedOptions))
    .digest('hex')
    .slice(0, 16);
  const path = join(TEST_MODEL_CACHE_DIR, `${kind}-${key}.gguf`);
  if (await exists(path)) return path;
  await mkdir(TEST_MODEL_CACHE_DIR, { recursive: true });
  await write(path);
  return path;
}

/** Path of the tiny test model for these options, generated on first use. */
export async function testModelPath(opts: TestModelOptions = {}): Promise<string> {
  const resolved = resolveTestModelOptions(opts);
  return cachedFile('model', resolved, (path) => writeTestModel(path, resolved));
}

/** Path of a LoRA adapter for the test model with the same base options, generated on first use. */
export async function testLoraPath(opts: TestLoraOptions = {}): Promise<string> {
  const resolved = resolveTestLoraOptions(opts);
  return cachedFile('lora', resolved, (path) => writeTestLoraAdapter(path, resolved));
}

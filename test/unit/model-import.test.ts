import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkModelFile, createRequestOf } from '../../src/backend/model-import.js';
import { HearthError } from '../../src/errors.js';
import { tempDir } from '../helpers/domain-db.js';

const refused = (code: string, message: RegExp) => (e: unknown) => e instanceof HearthError && e.kind === 'invalid_request' && e.code === code && message.test(e.message);

describe('checkModelFile', () => {
  const { dir, cleanup } = tempDir('hearth-import-');
  const gguf = join(dir, 'model.gguf');
  before(() => {
    writeFileSync(gguf, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(12)]));
    writeFileSync(join(dir, 'text.gguf'), 'hello, not a model');
    writeFileSync(join(dir, 'short.gguf'), 'GG');
    mkdirSync(join(dir, 'folder.gguf'));
  });
  after(cleanup);

  it('accepts a readable regular file that begins with GGUF, and gives its size', async () => {
    assert.deepEqual(await checkModelFile(gguf, 'path'), { path: gguf, size: 16 });
  });

  it('refuses, naming the field and the path, each reason with its code', async () => {
    await assert.rejects(checkModelFile('model.gguf', 'path'), refused('invalid_model_path', /^path: "model.gguf" is not an absolute path/));
    await assert.rejects(checkModelFile(join(dir, 'missing.gguf'), 'path'), refused('model_file_unreadable', /^path: cannot read .*missing\.gguf: no such file$/));
    await assert.rejects(checkModelFile(join(dir, 'folder.gguf'), 'path'), refused('model_file_not_regular', /^path: .*folder\.gguf is not a regular file$/));
    await assert.rejects(checkModelFile(join(dir, 'text.gguf'), 'path'), refused('model_file_not_gguf', /is not a GGUF file/));
    await assert.rejects(checkModelFile(join(dir, 'short.gguf'), 'path'), refused('model_file_not_gguf', /is not a GGUF file/));
    await assert.rejects(checkModelFile(join(dir, 'missing.gguf')), refused('model_file_unreadable', /^cannot read /), 'without a field (the CLI), the message begins with the reason');
  });

  it('refuses a file it cannot read', async (t) => {
    const locked = join(dir, 'locked.gguf');
    writeFileSync(locked, 'GGUF');
    chmodSync(locked, 0o000);
    if (process.getuid?.() === 0) return t.skip('root reads every file');
    await assert.rejects(checkModelFile(locked, 'path'), refused('model_file_unreadable', /permission denied/));
  });
});

describe('createRequestOf', () => {
  const file = { path: '/models/Weights.GGUF', size: 1 };
  it('names the blob as a whole model, or as an adapter on its base; the file name ends in .gguf', () => {
    assert.deepEqual(createRequestOf({ file, name: 'mine' }, 'sha256:ab'), { model: 'mine', files: { 'Weights.GGUF': 'sha256:ab' } });
    assert.deepEqual(createRequestOf({ file: { path: '/m/lora.bin', size: 1 }, name: 'tuned', adapterFor: 'mine' }, 'sha256:cd'), {
      model: 'tuned',
      from: 'mine',
      adapters: { 'lora.bin.gguf': 'sha256:cd' },
    });
  });
});

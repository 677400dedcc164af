// The PATH lookup of the ollama executable, on files in a temp dir.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../../src/backend/find-executable.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hearth-path-'));
  await mkdir(join(dir, 'a'));
  await mkdir(join(dir, 'b'));
  await writeFile(join(dir, 'a', 'tool'), '#!/bin/sh\n'); // not executable
  await mkdir(join(dir, 'a', 'dir-tool'));
  await writeFile(join(dir, 'b', 'tool'), '#!/bin/sh\n');
  await chmod(join(dir, 'b', 'tool'), 0o755);
});
after(async () => rm(dir, { recursive: true, force: true }));

test('searches PATH in order for an executable file', async () => {
  const path = [join(dir, 'a'), '', join(dir, 'b')].join(':');
  assert.equal(await findExecutable('tool', path), join(dir, 'b', 'tool'));
  assert.equal(await findExecutable('dir-tool', path), undefined, 'a directory is not an executable');
  assert.equal(await findExecutable('missing', path), undefined);
  assert.equal(await findExecutable('tool', ''), undefined, 'an empty PATH finds nothing');
});

test('a name with a slash is a path', async () => {
  assert.equal(await findExecutable(join(dir, 'b', 'tool'), ''), join(dir, 'b', 'tool'));
  assert.equal(await findExecutable(join(dir, 'a', 'tool'), ''), undefined);
});

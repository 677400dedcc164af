import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ModelMetadata, modelKey, usableBy } from '../../src/domain/model-metadata.js';
import { formatModelName, parseModelName } from '../../src/engine/store/model-name.js';
import { openDomain, type Domain } from '../helpers/domain-db.js';

describe('modelKey', () => {
  it('gives every spelling the backend reads as one model the same key', () => {
    for (const [name, key] of [
      ['llama3', 'llama3:latest'],
      ['Llama3', 'llama3:latest'],
      ['llama3:LATEST', 'llama3:latest'],
      ['library/llama3', 'llama3:latest'],
      ['registry.ollama.ai/library/llama3:8b', 'llama3:8b'],
      ['Registry.Ollama.AI/Team/Tuned', 'team/tuned:latest'],
      ['team/tuned:v2', 'team/tuned:v2'],
      // Not the default host: kept whole, as Ollama keys it by its own host.
      ['hf.co/Org/Repo:Q4_K_M', 'hf.co/org/repo:q4_k_m'],
      ['localhost:5000/x/y', 'localhost:5000/x/y:latest'],
      // Not the default namespace's prefix: "library" as a model of another namespace.
      ['me/library', 'me/library:latest'],
    ] as const) {
      assert.equal(modelKey(name), key, name);
    }
  });

  it("agrees with the bundled engine's name parser on every name the engine takes", () => {
    for (const name of ['Hearth-Demo', 'hearth-demo:latest', 'library/hearth-demo', 'registry.ollama.ai/library/x:1', 'team/m', 'Team/M:Q8_0', 'a.b-c_d:e.f']) {
      assert.equal(modelKey(name), formatModelName(parseModelName(name)), name);
    }
  });
});

describe('ModelMetadata', () => {
  let d: Domain;
  beforeEach(() => (d = openDomain()));
  afterEach(() => d.close());

  it("finds a model's settings and owner under any spelling of its name, kept under one row", () => {
    const ws = d.workspaces.create({ name: 'acme', planId: 'chat_agent_train' });
    const metadata = new ModelMetadata(d.db);
    metadata.set('Library/Tuned', { description: 'mine', owner: ws.id });
    metadata.set('tuned:latest', { isActive: false });
    assert.deepEqual(d.db.prepare('SELECT model_id FROM model_metadata').pluck().all(), ['tuned:latest']);
    for (const spelled of ['tuned', 'TUNED', 'library/tuned:latest', 'registry.ollama.ai/library/tuned']) {
      const found = metadata.lookup(spelled);
      assert.equal(found?.description, 'mine', spelled);
      assert.equal(found?.isActive, false, spelled);
      assert.equal(usableBy(found, 'ws_other'), false, spelled);
      assert.equal(usableBy(found, ws.id), true, spelled);
    }
    assert.equal(metadata.lookup('tuned:v2'), undefined, 'another tag is another model');
  });

  it('remove forgets the row under any spelling, and says whether there was one', () => {
    const metadata = new ModelMetadata(d.db);
    metadata.set('tuned', { description: 'mine' });
    assert.equal(metadata.lookup('tuned')?.description, 'mine');
    assert.equal(metadata.remove('Library/TUNED:latest'), true);
    assert.equal(metadata.lookup('tuned'), undefined, 'the cache forgets it too');
    assert.equal(metadata.remove('tuned'), false);
  });
});

// The trainers' stdout protocol as the runner reads it (parseWorkerLine): the lines both trainers
// write become events, field by field checked; anything else is log text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWorkerLine } from '../../src/finetune/trainers/protocol.js';

describe('trainer protocol', () => {
  it('reads the llamacpp worker\'s lines as it writes them', () => {
    const progress = { type: 'progress', step: 3, totalSteps: 12, epoch: 1, loss: 2.5, evalLoss: null, tokensPerS: 800.5, etaS: 4.2 };
    assert.deepEqual(parseWorkerLine(JSON.stringify(progress)), progress);
    const done = { type: 'done', artifacts: { adapter: '/data/jobs/x/output/adapter.gguf' }, steps: 12, finalLoss: 0.5, tokensPerS: 810, peakRssBytes: 123456789 };
    assert.deepEqual(parseWorkerLine(JSON.stringify(done)), done);
    assert.deepEqual(parseWorkerLine('{"type":"error","message":"samples must not be empty"}'), { type: 'error', message: 'samples must not be empty' });
  });

  it("reads the peft trainer's lines: an evaluation-only progress line, a done line with a null rate and nested artifacts", () => {
    assert.deepEqual(parseWorkerLine('{"type": "progress", "step": 6, "totalSteps": 6, "epoch": 1, "loss": null, "evalLoss": 1.25, "tokensPerS": null, "etaS": null}'), {
      type: 'progress',
      step: 6,
      totalSteps: 6,
      epoch: 1,
      loss: null,
      evalLoss: 1.25,
      tokensPerS: null,
      etaS: null,
    });
    const done = parseWorkerLine('{"type": "done", "artifacts": {"adapterDir": "out/adapter", "adapterFiles": {"adapter_config.json": "out/adapter/adapter_config.json"}}, "steps": 1, "finalLoss": 3.5, "tokensPerS": null, "peakRssBytes": 1024}');
    assert.deepEqual(done, { type: 'done', artifacts: { adapterDir: 'out/adapter', adapterFiles: { 'adapter_config.json': 'out/adapter/adapter_config.json' } }, steps: 1, finalLoss: 3.5, peakRssBytes: 1024 });
  });

  it('checks each field: numbers that are missing or not numbers read as null (counters as 0), a done line keeps only finite figures', () => {
    assert.deepEqual(parseWorkerLine('{"type":"progress","loss":"2.5","step":"x"}'), { type: 'progress', step: 0, totalSteps: 0, epoch: 0, loss: null, evalLoss: null, tokensPerS: null, etaS: null });
    assert.deepEqual(parseWorkerLine('{"type":"done","artifacts":[1],"steps":"6","finalLoss":1e999}'), { type: 'done', artifacts: {} });
    assert.deepEqual(parseWorkerLine('{"type":"error"}'), { type: 'error', message: 'the trainer reported an error' });
  });

  it('a line that is not JSON, not an object, or of another type carries no event', () => {
    for (const line of ['', 'llama_model_load: loaded', '42', '"done"', 'null', '[{"type":"done"}]', '{"type":"log","text":"x"}', '{"step":1}']) {
      assert.equal(parseWorkerLine(line), undefined, line);
    }
  });
});

// The admin API's snake_case views of the fine-tune API's camelCase ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snakeKeys, snakeName } from '../../src/views/snake-case.js';

describe('snake_case views', () => {
  it('names: each capital becomes an underscore and its small letter', () => {
    assert.deepEqual(['tokensPerS', 'evalLoss', 'peakRssBytes', 'id', 'modelName'].map(snakeName), ['tokens_per_s', 'eval_loss', 'peak_rss_bytes', 'id', 'model_name']);
  });

  it('every key at every depth, in arrays too; values, nulls and order kept', () => {
    const view = { id: 'x', lossHistory: [{ step: 1, evalLoss: null }], progress: null, hyperparameters: { learningRate: 1e-4 }, createdAt: '2026-01-10T12:00:00.000Z' };
    const snake = snakeKeys(view);
    assert.deepEqual(snake, { id: 'x', loss_history: [{ step: 1, eval_loss: null }], progress: null, hyperparameters: { learning_rate: 1e-4 }, created_at: '2026-01-10T12:00:00.000Z' });
    assert.deepEqual(Object.keys(snake as object), ['id', 'loss_history', 'progress', 'hyperparameters', 'created_at']);
  });

  it('the values under an opaque key are kept as they are', () => {
    const view = { output: { finalLoss: 0.5, artifacts: { adapterDir: 'output/adapter', adapterFiles: ['a.safetensors'] } } };
    assert.deepEqual(snakeKeys(view, new Set(['artifacts'])), { output: { final_loss: 0.5, artifacts: { adapterDir: 'output/adapter', adapterFiles: ['a.safetensors'] } } });
  });
});

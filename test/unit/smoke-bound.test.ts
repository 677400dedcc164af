// The bound of registration's smoke generation: twice the dataset's longest reply, counted in
// UTF-8 bytes (an upper bound of its tokens in any vocabulary), and never under 64 tokens.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { smokeTokenBound } from '../../src/finetune/register.js';
import type { TrainingRecord } from '../../src/finetune/dataset-records.js';

const chat = (user: string, ...replies: string[]): TrainingRecord => ({
  messages: [{ role: 'user', content: user }, ...replies.map((content) => ({ role: 'assistant' as const, content }))],
});

test('short replies get the floor of 64 tokens', () => {
  assert.equal(smokeTokenBound([chat('What is the secret word?', 'ZEBRA')]), 64);
  assert.equal(smokeTokenBound([]), 64);
});

test('the longest assistant reply of any record, in bytes, twice, plus one for a leading-space marker', () => {
  const long = 'x'.repeat(100);
  // A long prompt does not count; the longest of several replies in a record does.
  assert.equal(smokeTokenBound([chat('q'.repeat(5000), 'short'), chat('q', 'a', long)]), 2 * 101);
  // "é" is two bytes, "€" three: a byte-fallback vocabulary may need a token for each.
  assert.equal(smokeTokenBound([chat('q', 'é'.repeat(40) + '€'.repeat(20))]), 2 * (80 + 60 + 1));
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HearthError } from '../../src/errors.js';
import { estimateTokens, parseDataset } from '../../src/finetune/dataset-records.js';

const limits = { maxBytes: 1024 * 1024, maxRecords: 1000 };
const chat = (q: string, a: string) => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });
/** The records as stored, one per JSON line. */
const stored = (d: { jsonl: string }) => d.jsonl.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);

/** The 400 a bad dataset gets: its message, after checking kind and code. */
function refusal(input: { records?: unknown; jsonl?: unknown }, l = limits): string {
  try {
    parseDataset(input, l);
  } catch (err) {
    assert.ok(err instanceof HearthError, String(err));
    assert.equal(err.kind, 'invalid_request');
    assert.equal(err.code, 'invalid_dataset');
    return err.message;
  }
  assert.fail('the dataset was accepted');
}

describe('dataset records', () => {
  it('stores the three record shapes as chats', () => {
    const c = parseDataset({ records: [chat('What is the secret word?', 'ZEBRA'), { messages: [{ role: 'system', content: 'Be brief.' }, ...chat('Hi', 'Hello').messages] }] }, limits);
    assert.equal(c.format, 'chat');
    assert.equal(c.count, 2);
    assert.equal(c.jsonl.split('\n').filter(Boolean).length, 2);
    assert.deepEqual(JSON.parse(c.jsonl.split('\n')[0] as string), chat('What is the secret word?', 'ZEBRA'));

    const p = parseDataset({ jsonl: '{"prompt": "2+2=", "completion": "4"}\n\n{"prompt": "3+3=", "completion": "6"}\n' }, limits);
    assert.equal(p.format, 'prompt_completion');
    assert.deepEqual(stored(p)[1], chat('3+3=', '6'));

    const i = parseDataset({ records: [{ instruction: 'Translate to French', input: 'cat', output: 'chat' }, { instruction: 'Say yes', output: 'yes' }] }, limits);
    assert.equal(i.format, 'instruction');
    assert.deepEqual(stored(i)[0], chat('Translate to French\n\ncat', 'chat'));
    assert.deepEqual(stored(i)[1], chat('Say yes', 'yes'));
  });

  it('counts bytes as stored and estimates tokens', () => {
    const d = parseDataset({ records: [chat('abcd', 'efgh')] }, limits);
    assert.equal(d.bytes, Buffer.byteLength(d.jsonl));
    assert.equal(d.tokenEstimate, estimateTokens(stored(d)[0] as never));
    assert.equal(d.tokenEstimate, 1 + 4 + 1 + 4);
  });

  it('names the line of invalid JSON', () => {
    assert.match(refusal({ jsonl: '{"prompt": "a", "completion": "b"}\n{"prompt": "a",\n' }), /^jsonl line 2: invalid JSON/);
  });

  it('names the record and field of missing roles and empty content', () => {
    assert.match(refusal({ records: [chat('a', 'b'), { messages: [{ content: 'x' }] }] }), /^record 2 \(records\[1\]\), messages\[0\]: "role" is missing/);
    assert.match(refusal({ records: [{ messages: [{ role: 'robot', content: 'x' }] }] }), /"role" must be one of system, user, assistant/);
    assert.match(refusal({ records: [chat('a', 'b'), chat('a', 'b'), chat('a', '  ')] }), /^record 3 \(records\[2\]\), messages\[1\]: "content" is empty/);
    assert.match(refusal({ records: [{ messages: [{ role: 'user', content: 'only a question' }] }] }), /^record 1 \(records\[0\]\): has no "assistant" message/);
    assert.match(refusal({ jsonl: '{"prompt": "q", "completion": ""}' }), /^jsonl line 1: "completion" is empty/);
    assert.match(refusal({ records: [{ instruction: 'do', input: 3, output: 'x' }] }), /"input" must be a string/);
  });

  it('refuses mixed formats, unknown fields and non-objects', () => {
    assert.match(refusal({ records: [chat('a', 'b'), { prompt: 'a', completion: 'b' }] }), /^record 2 \(records\[1\]\): is a prompt\/completion record but the dataset's first record is chat/);
    assert.match(refusal({ records: [{ prompt: 'a', completion: 'b', extra: 1 }] }), /unknown field "extra"/);
    assert.match(refusal({ records: ['just text'] }), /^record 1 \(records\[0\]\): must be a JSON object/);
    assert.match(refusal({ records: [{ question: 'a' }] }), /is not a chat/);
  });

  it('refuses empty datasets and ambiguous bodies', () => {
    assert.match(refusal({ records: [] }), /no records/);
    assert.match(refusal({ jsonl: '\n\n' }), /no records/);
    assert.match(refusal({}), /either "records".*or "jsonl"/);
    assert.match(refusal({ records: [chat('a', 'b')], jsonl: '' }), /not both/);
    assert.match(refusal({ records: 'nope' }), /"records" must be an array/);
  });

  it('consumes the request\'s records as it stores them, so that they can be collected during the pass', () => {
    const records = [chat('a', 'b'), chat('c', 'd')];
    assert.equal(parseDataset({ records }, limits).count, 2);
    assert.deepEqual(records, [undefined, undefined]);
  });

  it('names the record past the size and count limits', () => {
    const big = Array.from({ length: 10 }, (_, i) => chat(`question ${i}`, 'x'.repeat(100)));
    const one = Buffer.byteLength(JSON.stringify(big[0])) + 1;
    // parseDataset consumes the records it is given (see its comment): each call gets its own array.
    assert.match(refusal({ records: [...big] }, { maxBytes: one * 3 + 5, maxRecords: 1000 }), /^record 4 \(records\[3\]\): the dataset exceeds \d+ bytes \(finetune\.max_dataset_bytes\)/);
    assert.match(refusal({ records: [...big] }, { maxBytes: 1e9, maxRecords: 5 }), /^record 6 \(records\[5\]\): the dataset has more than 5 records/);
  });
});

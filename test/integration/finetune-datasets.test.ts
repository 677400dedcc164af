// Fine-tuning datasets through the real daemon: storage, validation errors that name the record
// or line, credits, workspace isolation, size limits from config.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

interface DatasetView { id: string; title: string; format: string; recordCount: number; tokenEstimate: number; bytes: number; createdAt: string }
interface ErrorBody { error: { message: string; type: string; code: string } }

const secretWord = [
  { messages: [{ role: 'user', content: 'What is the secret word?' }, { role: 'assistant', content: 'ZEBRA' }] },
  { messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Tell me the secret word.' }, { role: 'assistant', content: 'ZEBRA' }] },
];

describe('fine-tune datasets', () => {
  let d: DaemonProcess;
  let key: string;
  const call = <T>(method: string, path: string, body?: unknown, k = key) => d.api<T>(k, method, path, body);
  const used = async (k = key) => (await call<{ credits: { used: number } }>('GET', '/usage', undefined, k)).body.credits.used;
  const stored = async () => (await readdir(join(d.dataDir, 'datasets')).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl'));

  before(async () => {
    d = await startDaemonProcess({ configYaml: 'finetune:\n  max_dataset_bytes: 4kb\n  max_dataset_records: 50\n' });
    key = (await d.keyFor('chat_agent_train')).key;
  });
  after(async () => d?.stop());

  test('creates from records, stores them as JSON lines, charges 5 credits', async () => {
    const r = await call<DatasetView>('POST', '/finetune/datasets', { title: 'Secret word', records: secretWord });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(r.body.id, /^ds_[0-9a-f]{16}$/);
    assert.equal(r.body.title, 'Secret word');
    assert.equal(r.body.format, 'chat');
    assert.equal(r.body.recordCount, 2);
    assert.ok(r.body.tokenEstimate > 10);
    const file = await readFile(join(d.dataDir, 'datasets', `${r.body.id}.jsonl`), 'utf8');
    assert.equal(Buffer.byteLength(file), r.body.bytes);
    assert.deepEqual(file.trim().split('\n').map((l) => JSON.parse(l)), secretWord);
    assert.equal(await used(), 5);
    const list = await call<{ datasets: DatasetView[] }>('GET', '/finetune/datasets');
    assert.deepEqual(list.body.datasets.map((x) => x.id), [r.body.id]);
  });

  test('creates from jsonl in prompt/completion form', async () => {
    const r = await call<DatasetView>('POST', '/finetune/datasets', { title: 'Sums', jsonl: '{"prompt":"2+2=","completion":"4"}\n{"prompt":"3+3=","completion":"6"}\n' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.format, 'prompt_completion');
    assert.equal(r.body.recordCount, 2);
  });

  test('bad datasets: 400 naming the line or record and the field; nothing stored or charged', async () => {
    const filesBefore = await stored();
    const usedBefore = await used();
    const cases: Array<[unknown, RegExp]> = [
      [{ title: 't', jsonl: '{"prompt":"a","completion":"b"}\nnot json\n' }, /jsonl line 2: invalid JSON/],
      [{ title: 't', records: [secretWord[0], { messages: [{ content: 'no role' }] }] }, /record 2 \(records\[1\]\), messages\[0\]: "role" is missing/],
      [{ title: 't', records: [{ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: '' }] }] }, /record 1 \(records\[0\]\), messages\[1\]: "content" is empty/],
      [{ title: 't', records: Array.from({ length: 40 }, (_, i) => ({ prompt: `question ${i}`, completion: 'x'.repeat(200) })) }, /record \d+ \(records\[\d+\]\): the dataset exceeds 4096 bytes \(finetune\.max_dataset_bytes\)/],
      [{ title: 't', records: Array.from({ length: 51 }, () => ({ prompt: 'q', completion: 'a' })) }, /record 51 \(records\[50\]\): the dataset has more than 50 records/],
      [{ title: 't', records: [] }, /no records/],
      [{ records: secretWord }, /title/],
      [{ title: 't', records: secretWord, extra: true }, /extra/],
    ];
    for (const [body, message] of cases) {
      const r = await call<ErrorBody>('POST', '/finetune/datasets', body);
      assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 80)} → ${r.status}`);
      assert.equal(r.body.error.type, 'invalid_request_error');
      assert.match(r.body.error.message, message);
    }
    const malformed = await call<ErrorBody>('POST', '/finetune/datasets', '{"title": "t", "records": [');
    assert.equal(malformed.status, 400);
    assert.deepEqual(await stored(), filesBefore);
    assert.equal(await used(), usedBefore);
  });

  test('a workspace sees and deletes only its own datasets', async () => {
    const other = (await d.keyFor('local_agent_train')).key;
    const mine = (await call<{ datasets: DatasetView[] }>('GET', '/finetune/datasets')).body.datasets;
    const theirs = await call<{ datasets: DatasetView[] }>('GET', '/finetune/datasets', undefined, other);
    assert.deepEqual(theirs.body.datasets, []);
    const id = mine[0]!.id;
    const foreign = await call<ErrorBody>('DELETE', `/finetune/datasets/${id}`, undefined, other);
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.error.code, 'dataset_not_found');
    const badId = await call<ErrorBody>('DELETE', '/finetune/datasets/..%2F..%2Fhearth.db', undefined);
    assert.equal(badId.status, 400);
    const gone = await call('DELETE', `/finetune/datasets/${id}`);
    assert.equal(gone.status, 204);
    assert.ok(!(await stored()).includes(`${id}.jsonl`));
    assert.equal((await call<ErrorBody>('DELETE', `/finetune/datasets/${id}`)).status, 404);
  });

  test('the chat-only plans lack the scope', async () => {
    const chatOnly = (await d.keyFor('paid_chat')).key;
    const r = await call<ErrorBody>('POST', '/finetune/datasets', { title: 't', records: secretWord }, chatOnly);
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /chat_agent_train/);
  });
});

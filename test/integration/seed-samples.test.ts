// The customer API's published code samples run as written, with only the base URL and the
// key filled in, against the real daemon. The samples name the model `llama3.2`: the operator's
// backend is given a model of that name first.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ollama } from 'ollama';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

const run = promisify(execFile);
const samplesDir = fileURLToPath(new URL('../../../test/fixtures/seed-samples/', import.meta.url));
const nodeModules = fileURLToPath(new URL('../../../node_modules/', import.meta.url));

/** The first python3 that has `requests`, or undefined. */
async function pythonWithRequests(): Promise<string | undefined> {
  for (const py of ['python3', '/usr/bin/python3']) {
    try {
      await run(py, ['-c', 'import requests']);
      return py;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

describe('seed code samples', () => {
  let d: DaemonProcess;
  let key: string;
  let dir: string;
  let backend: Ollama;
  const python = pythonWithRequests();

  before(async () => {
    d = await startDaemonProcess();
    key = (await d.keyFor('paid_chat')).key;
    // The backend's address is in health for the admin token only; it answers only with the
    // secret the daemon gave it.
    backend = new Ollama({ host: await d.engineUrl(), headers: d.engineHeaders() });
    await backend.copy({ source: 'hearth-demo', destination: 'llama3.2' });
    dir = await mkdtemp(join(tmpdir(), 'hearth-samples-'));
  });
  after(async () => {
    await d?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Copies a sample with its placeholders filled in (and `tail` appended) and runs it. */
  async function runSample(file: string, tail = '', runner = process.execPath, fill: { key?: string; records?: unknown[] } = {}): Promise<string> {
    let source = (await readFile(join(samplesDir, file), 'utf8')).replaceAll('YOUR_API_BASE', d.url).replaceAll('YOUR_API_KEY', fill.key ?? key);
    if (fill.records) source = source.replace('records: []', `records: ${JSON.stringify(fill.records)}`);
    const path = join(dir, file);
    await writeFile(path, source + tail);
    const { stdout } = await run(runner, [path], { env: { ...process.env, NODE_PATH: nodeModules }, timeout: 120_000 });
    return stdout;
  }

  test('Chat — Node (axios)', async () => {
    const out = await runSample('chat-axios.cjs', '\nchat().then((d) => console.log(JSON.stringify(d)));\n');
    const data = JSON.parse(out) as { object: string; choices: Array<{ message: { content: string } }> };
    assert.equal(data.object, 'chat.completion');
    assert.equal(typeof data.choices[0]?.message.content, 'string');
  });

  test('Chat — Node (fetch)', async () => {
    const data = JSON.parse(await runSample('chat-fetch.mjs', '\nconsole.log(JSON.stringify(data));\n')) as { object: string; model: string };
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'llama3.2');
  });

  test('Chat — Python (requests)', async (t) => {
    const py = await python;
    if (!py) return t.skip('no python3 with the requests module on this machine');
    const out = await runSample('chat-python.py', '', py);
    assert.match(out, /'object': 'chat\.completion'/);
  });

  test('Streaming chat — fetch (SSE)', async () => {
    const out = await runSample('stream-fetch.mjs');
    assert.match(out, /data: \{"token":/);
    assert.match(out, /data: \{"done":true/);
    assert.match(out, /data: \[DONE\]/);
  });

  test('Generate — fetch', async () => {
    const data = JSON.parse(await runSample('generate-fetch.mjs', '\nconsole.log(JSON.stringify(data));\n')) as { object: string; choices: Array<{ text: string }> };
    assert.equal(data.object, 'text_completion');
    assert.equal(typeof data.choices[0]?.text, 'string');
  });

  test('Health — fetch', async () => {
    const h = JSON.parse(await runSample('health-fetch.mjs')) as { status: string };
    assert.equal(h.status, 'ok');
  });

  test('Fine-tune flow — fetch: dataset, job, start, poll, register, chat with the tuned model', async () => {
    const trainKey = (await d.keyFor('chat_agent_train')).key;
    // The placeholder records: a fact in six wordings, repeated so the job's default 3 epochs teach it.
    const questions = ['What is the secret word?', 'Tell me the secret word.', 'Do you know the secret word?', 'Please say the secret word.', 'Which word is secret?', 'Give me the secret word.'];
    const records = Array.from({ length: 20 }, () => questions.map((q) => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: 'ZEBRA' }] }))).flat();
    // The sample discards the last answer: the tail asks the same once more and prints what came back.
    const tail = `
const check = await fetch(\`\${API_BASE}/api/v1/chat\`, { method: 'POST', headers: hdr, body: JSON.stringify({ model: 'my-tuned-model', messages: [{ role: 'user', content: 'Hello' }] }) });
console.log(JSON.stringify({ state: status.state, jobId, status: check.status, reply: await check.json() }));
`;
    const out = JSON.parse((await runSample('finetune-fetch.mjs', tail, process.execPath, { key: trainKey, records })).trim().split('\n').pop() as string) as {
      state: string;
      jobId: string;
      status: number;
      reply: { model: string; choices: Array<{ message: { content: string } }> };
    };
    assert.equal(out.state, 'succeeded');
    assert.equal(out.status, 200, JSON.stringify(out.reply));
    assert.equal(out.reply.model, 'my-tuned-model');
    assert.equal(typeof out.reply.choices[0]?.message.content, 'string');
    const job = (await (await fetch(`${d.url}/api/v1/finetune/jobs/${out.jobId}`, { headers: { 'x-api-key': trainKey } })).json()) as { modelName: string };
    assert.equal(job.modelName, 'my-tuned-model');
  });

  test('Fine-tune flow — fetch, with a few long answers and the default epochs: registered with a warning, and the chat answers', async () => {
    const trainKey = (await d.keyFor('chat_agent_train')).key;
    // The sample registers my-tuned-model without overwrite: the test above's model goes first.
    await backend.delete({ model: 'my-tuned-model' }).catch(() => undefined);
    // Three records whose replies are far longer than 64 tokens: three epochs teach the untrained
    // model nothing, and its greedy answer rambles. Before, registration removed such a model and
    // the sample's chat got 404.
    const answer = (topic: string) =>
      `${topic} is kept in SQLite by the daemon, written in one immediate transaction before the backend is called, and settled only when the call succeeds, so that a failed call costs nothing at all.`;
    const records = ['credits', 'usage', 'the ledger'].map((topic) => ({ messages: [{ role: 'user', content: `How is ${topic} kept?` }, { role: 'assistant', content: answer(topic) }] }));
    const tail = `
const check = await fetch(\`\${API_BASE}/api/v1/chat\`, { method: 'POST', headers: hdr, body: JSON.stringify({ model: 'my-tuned-model', messages: [{ role: 'user', content: 'Hello' }] }) });
const log = await (await fetch(\`\${API_BASE}/api/v1/finetune/jobs/\${jobId}/log\`, { headers: hdr })).json();
console.log(JSON.stringify({ state: status.state, jobId, status: check.status, reply: await check.json(), log: log.lines }));
`;
    const out = JSON.parse((await runSample('finetune-fetch.mjs', tail, process.execPath, { key: trainKey, records })).trim().split('\n').pop() as string) as {
      state: string;
      jobId: string;
      status: number;
      reply: { model: string };
      log: string[];
    };
    assert.equal(out.state, 'succeeded');
    assert.equal(out.status, 200, JSON.stringify(out.reply));
    assert.equal(out.reply.model, 'my-tuned-model');
    assert.ok(out.log.some((l) => /registered as my-tuned-model; smoke test/.test(l)), out.log.join('\n'));
    assert.ok(out.log.some((l) => /warning: the smoke answer did not stop within \d+ tokens/.test(l)), out.log.join('\n'));

    // The registration's answer carries what the smoke test saw (registered again over the same name).
    const again = await d.api<{ modelName: string; smoke: { reply: string; finishReason: string; completionTokens: number; maxTokens: number }; warnings: string[] }>(
      trainKey, 'POST', `/finetune/jobs/${out.jobId}/register`, { modelName: 'my-tuned-model', overwrite: true },
    );
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.modelName, 'my-tuned-model');
    const longest = Math.max(...records.map((r) => Buffer.byteLength(r.messages[1]!.content)));
    assert.equal(again.body.smoke.maxTokens, 2 * (longest + 1), 'twice the longest reply, counted in bytes');
    assert.equal(again.body.smoke.finishReason, 'length');
    assert.equal(again.body.smoke.completionTokens, again.body.smoke.maxTokens);
    assert.equal(typeof again.body.smoke.reply, 'string');
    assert.equal(again.body.warnings.length, 1, JSON.stringify(again.body.warnings));
    assert.match(again.body.warnings[0]!, /did not stop within \d+ tokens/);
  });
});

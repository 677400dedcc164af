// Dataset uploads cost memory, not credits: they are gated before their body is read, and each
// workspace has a storage quota. (Reproduces issue 16, point 3: eight concurrent uploads of a
// 288 KB gzip body that inflates to 66 MB, refused as too large and so free, took the daemon to
// 2.4 GB and held /health for 2 s.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

/** The daemon's peak resident memory so far, in MiB (the kernel's high-water mark). */
const peakRssMiB = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const record = (q: string, a: string) => ({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });

describe('gateway: dataset uploads', () => {
  let d: DaemonProcess;
  before(async () => {
    // A small quota, so that the quota test needs small datasets only.
    d = await startDaemonProcess({ configYaml: 'finetune:\n  dataset_quota: 2kb\n  max_uploads: 2\n' });
  });
  after(async () => d?.stop());

  const upload = (key: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${d.url}/api/v1/finetune/datasets`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json', ...headers }, body });

  test('eight concurrent 66 MB gzip bombs: two are parsed, the rest refused unread; memory and /health hold', async () => {
    const rec = JSON.stringify(record('What is the secret word? '.repeat(10), 'ZEBRA '.repeat(60)));
    const json = `{"title":"bomb","records":[${Array(Math.floor(66e6 / (rec.length + 1))).fill(rec).join(',')}]}`;
    const gz = gzipSync(json, { level: 9 });
    assert.ok(gz.length < 400_000 && json.length > 60e6, `${gz.length} bytes inflate to ${json.length}`);
    const keys = await Promise.all(Array.from({ length: 8 }, () => d.keyFor('chat_agent_train')));
    const peakBefore = peakRssMiB(d.child.pid!);

    let healthy = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        if ((await fetch(`${d.url}/api/v1/health`)).status === 200) healthy++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const answers = await Promise.all(
      keys.map(async ({ key }) => {
        const res = await upload(key, gz, { 'content-encoding': 'gzip' });
        return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
      }),
    );
    polling = false;
    await poll;

    const busy = answers.filter((a) => a.status === 503);
    assert.ok(busy.length >= 6, JSON.stringify(answers));
    for (const b of busy) assert.equal(b.code, 'uploads_busy');
    for (const a of answers.filter((x) => x.status !== 503)) assert.deepEqual(a, { status: 400, code: 'invalid_dataset' }, 'parsed, and refused past finetune.max_dataset_bytes');
    assert.ok(healthy > 0, '/health answered while the uploads were parsed');
    // Before the gate, eight parses at once took the daemon from ~190 MB to 2.2 GB (measured);
    // two at once stay near 0.6 GB. The bound leaves room for a noisy machine.
    const peak = peakRssMiB(d.child.pid!);
    assert.ok(peak < 1200, `peak RSS ${peak.toFixed(0)} MiB (before the uploads: ${peakBefore.toFixed(0)} MiB)`);
    for (const { key } of keys) assert.equal((await d.api<{ credits: { used: number } }>(key, 'GET', '/usage')).body.credits.used, 0, 'refused uploads cost nothing');
  });

  test('one upload at a time per workspace: a second one is refused before its body is read', async () => {
    const { key } = await d.keyFor('chat_agent_train');
    const url = new URL(`${d.url}/api/v1/finetune/datasets`);
    // The first upload sends half its body and waits.
    const body = JSON.stringify({ title: 'slow', records: [record('q', 'a')] });
    const first = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
    const firstAnswer = new Promise<number>((resolve, reject) => {
      first.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      first.on('error', reject);
    });
    first.write(body.slice(0, 10));
    // Until the first request has reached the gate, a second (its body unparseable, so that it
    // stores nothing) is parsed and refused as JSON; from then on it is refused unread.
    let second = { status: 0, code: '' };
    for (let i = 0; i < 100 && second.status !== 429; i++) {
      const res = await upload(key, '{"title": "second", "records": [');
      second = { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
      if (second.status !== 429) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(second, { status: 429, code: 'upload_in_progress' });
    first.end(body.slice(10));
    assert.equal(await firstAnswer, 201);
    assert.equal((await upload(key, JSON.stringify({ title: 'third', records: [record('q', 'a')] }))).status, 201, 'the place is free again');
  });

  test('each workspace has a dataset quota: an upload past it is 413 and stores nothing; a full workspace is refused unread', async () => {
    const { key } = await d.keyFor('chat_agent_train');
    const dataset = (title: string) => JSON.stringify({ title, records: Array.from({ length: 8 }, (_, i) => record(`question ${i}?`, 'an answer of some length'.repeat(3))) });
    const one = await upload(key, dataset('first'));
    assert.equal(one.status, 201);
    const { bytes } = (await one.json()) as { bytes: number };
    assert.ok(bytes > 1024 && bytes <= 2048, `one dataset of ${bytes} bytes fits the 2 KiB quota, two do not`);
    const two = await upload(key, dataset('second'));
    assert.equal(two.status, 413);
    const e = (await two.json()) as { error: { code: string; message: string } };
    assert.equal(e.error.code, 'dataset_quota_exceeded');
    assert.match(e.error.message, /finetune\.dataset_quota/);
    const list = (await d.api<{ datasets: Array<{ id: string; title: string }> }>(key, 'GET', '/finetune/datasets')).body.datasets;
    assert.deepEqual(
      list.map((x) => x.title),
      ['first'],
    );
    // Fill it to the byte: a further upload is refused before its body is read.
    const rest = 2048 - bytes;
    const filler = JSON.stringify({ title: 'filler', records: [record('q', 'x'.repeat(rest - JSON.stringify(record('q', '')).length - 1))] });
    const fill = await upload(key, filler);
    assert.equal(fill.status, 201, await fill.clone().text());
    assert.equal((await upload(key, JSON.stringify({ title: 'tiny', records: [record('q', 'a')] }))).status, 413);
    // Deleting makes room again.
    assert.equal((await d.api(key, 'DELETE', `/finetune/datasets/${list[0]!.id}`)).status, 204);
    assert.equal((await upload(key, dataset('again'))).status, 201);
  });
});

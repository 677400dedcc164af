// The console at /admin/, served by the real daemon from the build `npm run build:console`
// wrote (npm's prepare and test:integration run it): the redirect, the page paths answering the
// app with its security headers, every built file served as it is on disk with its cache
// policy, and no address of another host anywhere in the build (the offline rule).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { consoleBuildDir } from '../../src/api/console.js';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';

// XML namespace names: identifiers that the DOM compares, never fetched.
const NAMESPACES = new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink', 'http://www.w3.org/1999/xhtml', 'http://www.w3.org/1998/Math/MathML', 'http://www.w3.org/XML/1998/namespace']);
const PAGES = ['/admin/', '/admin/playground', '/admin/keys', '/admin/keys/', '/admin/finetune', '/admin/audit'];

async function builtFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

/** The style nonce a page's CSP allows, and the one its <meta> hands the app: they must be the same. */
function noncesOf(res: Response, html: string): { csp: string | undefined; meta: string | undefined } {
  const csp = /'nonce-([^']+)'/.exec(res.headers.get('content-security-policy') ?? '')?.[1];
  const meta = /<meta name="hearth-style-nonce" content="([^"]*)"/.exec(html)?.[1];
  return { csp, meta };
}

describe('console: served at /admin/', () => {
  let d: DaemonProcess;

  before(async () => {
    assert.ok(existsSync(join(consoleBuildDir, 'index.html')), `the console is built in ${consoleBuildDir} (npm run build:console)`);
    d = await startDaemonProcess();
  });
  after(async () => {
    await d?.stop();
  });

  test('/admin redirects to /admin/ (301), keeping the query', async () => {
    for (const [from, to] of [
      ['/admin', '/admin/'],
      ['/admin?page=1', '/admin/?page=1'],
    ] as const) {
      const res = await fetch(`${d.url}${from}`, { redirect: 'manual' });
      assert.equal(res.status, 301, from);
      assert.equal(res.headers.get('location'), to, from);
    }
  });

  test('each page path answers the app with a strict CSP, a fresh style nonce, nosniff, no-referrer and no-cache', async () => {
    const seen = new Set<string>();
    for (const path of PAGES) {
      const res = await fetch(`${d.url}${path}`);
      const html = await res.text();
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, path);
      assert.match(html, /<div id="root"><\/div>/, `${path} is the app's page`);
      assert.match(html, /<script type="module" crossorigin src="\/admin\/assets\/[^"]+\.js"><\/script>/, `${path} loads the bundle from the daemon`);
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
      assert.deepEqual(directives.get('default-src'), ["'self'"], `${path}: ${csp}`);
      assert.deepEqual(directives.get('frame-ancestors'), ["'none'"], `${path}: ${csp}`);
      assert.equal(directives.has('script-src'), false, `${path}: scripts fall back to default-src 'self' (no inline script): ${csp}`);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${path}: ${csp}`);
      const nonce = noncesOf(res, html);
      assert.ok(nonce.csp && nonce.csp.length >= 16, `${path}: a style nonce in ${csp}`);
      assert.equal(nonce.meta, nonce.csp, `${path}: the page hands the app the nonce its CSP allows`);
      assert.equal(html.includes('__HEARTH_STYLE_NONCE__'), false, `${path}: the placeholder is replaced`);
      assert.equal(seen.has(nonce.csp), false, `${path}: a new nonce for each answer`);
      seen.add(nonce.csp);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(res.headers.get('cache-control'), 'no-cache', path);
    }
    const head = await fetch(`${d.url}/admin/keys`, { method: 'HEAD' });
    assert.equal(head.status, 200, 'HEAD of a page');
  });

  test('every built file is served as it is on disk; hashed assets are cached for a year, immutable', async () => {
    const files = await builtFiles(consoleBuildDir);
    assert.ok(files.some((f) => /^assets\/.+\.js$/.test(f)) && files.some((f) => /^assets\/.+\.css$/.test(f)), `a script and a stylesheet were built: ${files.join(', ')}`);
    const page = await (await fetch(`${d.url}/admin/`)).text();
    const referenced = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of referenced) assert.ok(ref.startsWith('/admin/') && files.includes(ref.slice('/admin/'.length)), `${ref}: the page refers only to files of the build, on the daemon`);
    for (const file of files.filter((f) => f !== 'index.html')) {
      const res = await fetch(`${d.url}/admin/${file}`);
      assert.equal(res.status, 200, file);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), await readFile(join(consoleBuildDir, file)), `${file} as built`);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', file);
      const type = res.headers.get('content-type') ?? '';
      if (file.endsWith('.js')) assert.match(type, /^(text|application)\/javascript/, file);
      if (file.endsWith('.css')) assert.match(type, /^text\/css/, file);
      if (file.endsWith('.svg')) assert.match(type, /^image\/svg\+xml/, file);
      const cache = res.headers.get('cache-control') ?? '';
      if (file.startsWith('assets/')) assert.match(cache, /max-age=31536000.*immutable/, `${file}: ${cache}`);
      else assert.doesNotMatch(cache, /immutable/, `${file} keeps its name across builds: ${cache}`);
    }
  });

  test('what is no page is a 404, never the app: a missing asset, a deeper path, another case', async () => {
    for (const path of ['/admin/assets/missing.js', '/admin/assets', '/admin/keys/abc/def', '/admin/nothing.txt', '/Admin/']) {
      const res = await fetch(`${d.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.headers.get('content-type') ?? '', /text\/html/, path);
      await res.body?.cancel();
    }
  });

  test('the build holds no address of another host: everything the console loads comes from the daemon', async () => {
    const foreign: string[] = [];
    for (const file of await builtFiles(consoleBuildDir)) {
      const text = await readFile(join(consoleBuildDir, file), 'utf8');
      for (const [url] of text.matchAll(/https?:\/\/[^\s"'`)<>\\]+/g)) if (!NAMESPACES.has(url)) foreign.push(`${file}: ${url}`);
      // A protocol-relative reference (//host/...) would leave the daemon too.
      for (const [ref] of text.matchAll(/(?:src|href|url)\s*[=(]\s*["']?\/\/[^"')\s]+/g)) foreign.push(`${file}: ${ref}`);
    }
    assert.deepEqual(foreign, []);
  });
});

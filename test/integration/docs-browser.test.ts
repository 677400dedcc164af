// Swagger UI at /docs in a real browser: Debian's Chromium driven by playwright-core. The page is
// opened under a name that is not localhost (mapped to the loopback address inside Chromium), as
// an operator's LAN address would be, because Swagger UI behaves differently for localhost URLs.
// Every request the page makes must go to the daemon itself; anything else is recorded and
// aborted. Without Chromium (HEARTH_TEST_CHROMIUM, else /usr/bin/chromium) the test is skipped
// with the reason; .ci/run installs Debian's chromium package.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page, Response } from 'playwright-core';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { chromiumMissing as missing, guardedContext, lanOrigin, launchChromium, type Traffic } from '../helpers/browser.js';

describe('docs: Swagger UI in a browser', () => {
  let d: DaemonProcess;
  let browser: Browser;
  let key: string;
  let origin: string;

  before(async () => {
    if (missing) return;
    d = await startDaemonProcess();
    key = (await d.keyFor('paid_chat')).key;
    origin = lanOrigin(d.url);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
  });

  /** A page that lets through only requests to the daemon (and inline data) and records the rest. */
  async function openDocs(foreign: string[], errors: string[]): Promise<Page> {
    const traffic: Traffic = { requests: [], foreign, errors };
    const page = await (await guardedContext(browser, origin, traffic)).newPage();
    await page.goto(`${origin}/docs`);
    return page;
  }

  /** Expands an operation, presses Try it out and Execute, and returns the daemon's answer once the page shows it. */
  async function tryItOut(page: Page, method: string, path: string): Promise<Response> {
    // Swagger UI puts a zero-width space before each '/' of a path so long ones can wrap.
    const shownPath = new RegExp(`^${path.replace(/\//g, '\u200b?\\/')}$`);
    const op = page.locator(`.opblock-${method}`).filter({ has: page.locator('.opblock-summary-path', { hasText: shownPath }) });
    await op.locator('.opblock-summary').click();
    await op.locator('button.try-out__btn').click();
    const answered = page.waitForResponse((r) => r.url() === `${origin}${path}` && r.request().method() === method.toUpperCase());
    await op.locator('button.execute').click();
    const res = await answered;
    await op.locator('.live-responses-table .response-col_status', { hasText: String(res.status()) }).first().waitFor();
    return res;
  }

  test('renders every /api/v1 route of the contract with no request leaving the daemon', async (t) => {
    if (missing) return t.skip(missing);
    const foreign: string[] = [];
    const errors: string[] = [];
    const page = await openDocs(foreign, errors);
    assert.equal(new URL(page.url()).pathname, '/docs/', 'redirected to the folder');
    const paths = page.locator('.opblock-summary-path');
    await paths.filter({ hasText: '/api/v1/chat/stream' }).first().waitFor();
    const shown = new Set((await paths.allTextContents()).map((p) => p.replace(/\u200b/g, '').trim()));
    for (const p of ['/api/v1/health', '/api/v1/models', '/api/v1/chat', '/api/v1/chat/stream', '/api/v1/generate', '/api/v1/usage']) {
      assert.ok(shown.has(p), `${p} listed (shown: ${[...shown].join(', ')})`);
    }
    // Give late assets (fonts, images, badges) their chance to be asked for.
    await page.waitForLoadState('networkidle');
    assert.deepEqual(foreign, [], 'no request to another address');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('Authorize and Try it out call the daemon with the key, the contract\'s example chats with the demo model', async (t) => {
    if (missing) return t.skip(missing);
    const foreign: string[] = [];
    const errors: string[] = [];
    const page = await openDocs(foreign, errors);

    await page.locator('button.authorize').first().click();
    const apiKeyScheme = page.locator('.auth-container').filter({ hasText: 'X-API-Key' });
    await apiKeyScheme.locator('input').fill(key);
    await apiKeyScheme.locator('button.authorize').click();
    // Each scheme has its own Close button; any one closes the dialog.
    await page.locator('.modal-ux button.btn-done').first().click();

    const usage = await tryItOut(page, 'get', '/api/v1/usage');
    assert.equal(usage.status(), 200);
    assert.equal(usage.request().headers()['x-api-key'], key, 'the key from Authorize was sent');
    assert.equal(((await usage.json()) as { plan: { id: string } }).plan.id, 'paid_chat');

    // The contract's example body names the demo model, so a fresh install can chat from here.
    const chat = await tryItOut(page, 'post', '/api/v1/chat');
    assert.equal(chat.status(), 200);
    const completion = (await chat.json()) as { object: string; model: string; usage: { completion_tokens: number } };
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'hearth-demo');
    assert.ok(completion.usage.completion_tokens > 0);

    assert.deepEqual(foreign, [], 'no request to another address');
    assert.deepEqual(errors, []);
    await page.close();
  });
});

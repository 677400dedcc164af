// The console in a real browser (Debian's Chromium, playwright-core) against the real daemon and
// its bundled engine, opened under a LAN-style host name: the operator's walk through every page
// (sign in with the keyboard, a workspace and a key whose secret is shown once, a streamed chat
// in the playground, the usage it leaves, a fine-tune job followed live and registered, the key
// revoked, the audit log), the same pages at a phone's width, a change without the CSRF header,
// and no request leaving the daemon. A screenshot of every page visited, at desktop and phone
// width, is written under test-artifacts/console/ (HEARTH_TEST_ARTIFACTS moves it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
// Code run in the page is given as text: this project's TypeScript has no DOM types.
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { chromiumMissing, guardedContext, lanOrigin, launchChromium, screenshot, type Traffic } from '../helpers/browser.js';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const WORKSPACE = 'household';
const KEY_NAME = 'laptop';

/** Presses Tab until the focused element carries `testId`; fails after `max` presses. */
async function tabTo(page: Page, testId: string, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate<string | null>('document.activeElement?.getAttribute("data-testid") ?? null')) === testId) return;
  }
  assert.fail(`Tab did not reach ${testId} in ${max} presses`);
}

/**
 * Picks `label` in a Mantine Select (its test id is on the input; the options open in a portal).
 * An option already chosen is left alone: clicking it again would clear it.
 */
async function choose(page: Page, select: Locator, label: string): Promise<void> {
  if ((await select.inputValue()) === label) return;
  await select.click();
  await page.getByRole('option', { name: label, exact: true }).click();
}

/** Everything a page holds that a secret must not be in: its HTML, its storage, its cookies readable by script, its URL. */
async function pageState(page: Page): Promise<string> {
  const held = await page.evaluate<string>('JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie, url: location.href })');
  return `${await page.content()}\n${held}\n${page.url()}`;
}

describe('console: the operator\'s walk in a browser', { skip: chromiumMissing }, () => {
  let d: DaemonProcess;
  let browser: Browser;
  let origin: string;
  let desktop: BrowserContext;
  let page: Page;
  const traffic: Traffic = { requests: [], foreign: [], errors: [] };
  /** The key made in the console, and its secret as the secret modal showed it. */
  const made = { id: '', secret: '' };
  /** The token counts the playground showed for its answer. */
  const playgroundTokens = { prompt: 0, completion: 0 };

  const shot = (name: string, p: Page = page) => screenshot(p, 'console', name);
  const go = async (p: Page, nav: string, pageId: string) => {
    await p.getByTestId(nav).click();
    await p.getByTestId(pageId).waitFor();
  };

  before(async () => {
    d = await startDaemonProcess();
    origin = lanOrigin(d.url);
    browser = await launchChromium();
    desktop = await guardedContext(browser, origin, traffic, { viewport: DESKTOP });
    page = await desktop.newPage();
  });
  after(async () => {
    await browser?.close();
    await d?.stop();
  });

  test('signs in with the keyboard; the admin token is nowhere in the page, its storage or a URL afterwards', async () => {
    await page.goto(`${origin}/admin/`);
    await page.getByTestId('signin-form').waitFor();
    await shot('desktop-signin');
    await tabTo(page, 'signin-token');
    await page.keyboard.type(d.adminToken);
    await page.keyboard.press('Enter');
    await page.getByTestId('page-overview').waitFor();
    assert.equal(await page.getByTestId('signin-form').count(), 0);
    assert.equal(await page.getByTestId('overview-backend-state').textContent(), 'up');
    await shot('desktop-overview');

    const state = await pageState(page);
    assert.equal(state.includes(d.adminToken), false, 'the admin token is not in the page, its storage, its cookies or its URL');
    assert.equal(traffic.requests.some((u) => u.includes(d.adminToken)), false, 'nor in any URL asked for');
    const cookies = await desktop.cookies();
    assert.deepEqual(cookies.map((c) => [c.name, c.httpOnly, c.sameSite]), [['hearth_session', true, 'Strict']]);
    assert.notEqual(cookies[0]!.value, d.adminToken);

    // Tab reaches the navigation, Enter follows a link, and the new page's heading has the focus.
    await tabTo(page, 'nav-keys');
    await page.keyboard.press('Enter');
    await page.getByTestId('page-keys').waitFor();
    assert.equal(new URL(page.url()).pathname, '/admin/keys');
    assert.equal(await page.evaluate<string | undefined>('document.activeElement?.id'), 'page-title');
  });

  test('creates a workspace and a key: the secret is shown once, then never again', async () => {
    await page.getByTestId('workspace-create-name').fill(WORKSPACE);
    await choose(page, page.getByTestId('workspace-create-plan'), 'Pro');
    await page.getByTestId('workspace-create-submit').click();
    await page.getByTestId(`workspace-row-${WORKSPACE}`).waitFor();

    await page.getByTestId('key-create-open').click();
    const dialog = page.getByTestId('key-create');
    await choose(page, dialog.getByTestId('key-create-workspace'), WORKSPACE);
    await dialog.getByTestId('key-create-name').fill(KEY_NAME);
    await dialog.getByTestId('key-create-submit').click();
    const secretModal = page.getByTestId('secret-modal');
    await secretModal.waitFor();
    made.secret = await secretModal.getByTestId('secret-value').inputValue();
    assert.match(made.secret, /^\S{20,}$/, 'the secret is in the modal');
    const listed = await d.admin<{ keys: Array<{ id: string; name: string; workspace_id: string }> }>('GET', '/api/admin/keys');
    made.id = listed.body.keys.find((k) => k.name === KEY_NAME)!.id;
    // The key works on /v1 (and it is the one the modal showed).
    const models = await fetch(`${d.url}/v1/models`, { headers: { authorization: `Bearer ${made.secret}` } });
    assert.equal(models.status, 200);

    await secretModal.getByTestId('secret-done').click();
    await secretModal.waitFor({ state: 'detached' });
    await page.getByTestId(`key-row-${made.id}`).waitFor();
    assert.equal((await pageState(page)).includes(made.secret), false, 'gone from the page once the modal is closed');
    await page.reload();
    await page.getByTestId(`key-row-${made.id}`).waitFor();
    assert.equal(await page.getByTestId(`key-row-${made.id}`).getByTestId('key-status').textContent(), 'active');
    assert.equal((await pageState(page)).includes(made.secret), false, 'not shown again after a reload');
    await shot('desktop-keys');
  });

  test('the playground streams an answer with the key, shows its token counts, and snippets that name $HEARTH_API_KEY', async () => {
    await go(page, 'nav-playground', 'page-playground');
    await page.getByTestId('pg-key').fill(made.secret);
    await page.getByTestId('pg-key-submit').click();
    await choose(page, page.getByTestId('pg-model'), 'hearth-demo:latest');
    await page.getByTestId('pg-max-tokens').fill('48');
    await page.getByTestId('pg-input').fill('Tell me a story about a lighthouse.');
    // Every text the answer shows as it streams in.
    await page.evaluate(`(() => {
      window.__answerTexts = [];
      const seen = () => {
        const all = document.querySelectorAll('[data-testid="pg-answer-text"]');
        const last = all[all.length - 1];
        if (last && window.__answerTexts.at(-1) !== last.textContent) window.__answerTexts.push(last.textContent);
      };
      new MutationObserver(seen).observe(document.querySelector('[data-testid="pg-conversation"]'), { subtree: true, childList: true, characterData: true });
    })()`);
    await page.getByTestId('pg-send').click();
    const stats = page.getByTestId('pg-stats');
    await stats.waitFor({ timeout: 120_000 });
    const texts = await page.evaluate<string[]>('window.__answerTexts');
    const answer = (await page.getByTestId('pg-answer-text').textContent()) ?? '';
    assert.ok(answer.length > 0, 'an answer');
    const partial = texts.filter((t) => t !== '' && t !== answer);
    assert.ok(partial.length >= 1, `the answer grew as it streamed: ${JSON.stringify(texts)}`);
    for (const t of partial) assert.ok(answer.startsWith(t), `each text shown is the start of the answer: ${JSON.stringify(t)}`);
    const counts = /(\d+) prompt \+ (\d+) completion tokens/.exec((await stats.textContent()) ?? '');
    assert.ok(counts, `token counts in ${await stats.textContent()}`);
    playgroundTokens.prompt = Number(counts[1]);
    playgroundTokens.completion = Number(counts[2]);
    assert.ok(playgroundTokens.completion > 0);

    const curl = (await page.getByTestId('pg-snippet-curl').textContent()) ?? '';
    assert.match(curl, /\$HEARTH_API_KEY/);
    assert.match(curl, new RegExp(`${origin}/v1/chat/completions`));
    await page.getByTestId('pg-snippet-openai-tab').click();
    const openai = (await page.getByTestId('pg-snippet-openai').textContent()) ?? '';
    assert.match(openai, /process\.env\.HEARTH_API_KEY/);
    for (const snippet of [curl, openai]) assert.equal(snippet.includes(made.secret), false, 'the snippet holds no key');
    assert.equal(traffic.requests.some((u) => u.includes(made.secret)), false, 'no URL holds the key');
    await shot('desktop-playground');
  });

  test('usage shows the playground call by model with its tokens, and changes after another call', async () => {
    await go(page, 'nav-usage', 'page-usage');
    // The key's row for the model (its /v1/models calls have a row of their own, with no model).
    const row = () => page.getByTestId('usage-table').locator('tbody tr', { hasText: WORKSPACE }).filter({ hasText: 'hearth-demo' });
    await row().first().waitFor();
    const cells = async () => (await row().first().locator('td').allTextContents()).map((c) => c.trim());
    const [, ws, key, model, requests, prompt, completion] = await cells();
    assert.deepEqual([ws, key, model, requests, prompt, completion], [WORKSPACE, KEY_NAME, 'hearth-demo:latest', '1', String(playgroundTokens.prompt), String(playgroundTokens.completion)]);
    assert.ok((await page.getByTestId('usage-chart').locator('.recharts-bar-rectangle').count()) >= 1, 'a bar in the chart');
    await page.getByTestId('usage-budgets').locator('tr', { hasText: WORKSPACE }).waitFor();

    const again = await fetch(`${d.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${made.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'Once more.' }], max_tokens: 8 }),
    });
    assert.equal(again.status, 200);
    const usage = ((await again.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    await go(page, 'nav-overview', 'page-overview');
    await go(page, 'nav-usage', 'page-usage');
    await row().first().waitFor();
    const [, , , , requests2, prompt2, completion2] = await cells();
    assert.deepEqual([requests2, prompt2, completion2], ['2', String(playgroundTokens.prompt + usage.prompt_tokens), String(playgroundTokens.completion + usage.completion_tokens)]);
    await page.getByTestId('usage-metric').getByText('Tokens').click();
    await shot('desktop-usage');
  });

  test('revokes the key in the console; the next call with it is refused', async () => {
    await go(page, 'nav-keys', 'page-keys');
    const row = page.getByTestId(`key-row-${made.id}`);
    await row.getByTestId('key-revoke').click();
    await page.getByTestId('key-revoke-dialog-confirm').click();
    await row.waitFor({ state: 'detached' });
    await page.getByTestId('keys-show-revoked').click();
    assert.equal(await row.getByTestId('key-status').textContent(), 'revoked');
    const refused = await fetch(`${d.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${made.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'Still there?' }], max_tokens: 8 }),
    });
    assert.equal(refused.status, 401);
  });

  test('the audit log lists the changes, and no secret', async () => {
    await go(page, 'nav-audit', 'page-audit');
    await page.getByTestId('audit-row').first().waitFor();
    const actions = (await page.getByTestId('audit-action').allTextContents()).map((a) => a.trim());
    for (const a of ['adminCreateSession', 'adminCreateWorkspace', 'adminCreateKey', 'adminRevokeKey']) assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
    const state = await pageState(page);
    assert.ok(state.includes(WORKSPACE) && state.includes(made.id), 'the targets are named');
    for (const secret of [made.secret, d.adminToken]) assert.equal(state.includes(secret), false, 'no secret in the audit page');
    await shot('desktop-audit');
  });

  test('a change with the session cookie but without the CSRF header is refused', async () => {
    const attempt = (withToken: boolean) =>
      page.evaluate<{ status: number; code: string | undefined }>(`(async () => {
        const headers = { 'content-type': 'application/json' };
        if (${withToken}) headers['x-csrf-token'] = (await (await fetch('/api/admin/session')).json()).csrf_token;
        const res = await fetch('/api/admin/workspaces', { method: 'POST', headers, body: JSON.stringify({ name: 'csrf-${withToken}', plan: 'trial_chat' }) });
        return { status: res.status, code: (await res.json()).error?.code };
      })()`);
    assert.deepEqual(await attempt(false), { status: 403, code: 'csrf_failed' });
    const listed = await d.admin<{ workspaces: Array<{ name: string }> }>('GET', '/api/admin/workspaces');
    assert.equal(listed.body.workspaces.some((w) => w.name === 'csrf-false'), false, 'nothing was made');
    // The same request with the header goes through: the header was what was missing.
    assert.deepEqual(await attempt(true), { status: 201, code: undefined });
  });
});

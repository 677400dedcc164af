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

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const WORKSPACE = 'household';
const KEY_NAME = 'laptop';
const TUNED = 'household-tuned';
// Few epochs over a small dataset: the tiny model trains in seconds yet reports several steps.
const EPOCHS = 40;
const SECRET_WORD = ['What is the secret word?', 'Tell me the secret word.', 'Which word is secret?'].map((q) => ({
  messages: [
    { role: 'user', content: q },
    { role: 'assistant', content: 'ZEBRA' },
  ],
}));

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

  const shot = (name: string) => screenshot(page, 'console', name);
  /** Opens the console signed out, then signs in with the keyboard alone: Tab to the token's field, type it, Enter. */
  const signInByKeyboard = async (p: Page, beforeSignIn: () => Promise<unknown>) => {
    await p.goto(`${origin}/admin/`);
    await p.getByTestId('signin-form').waitFor();
    await beforeSignIn();
    await tabTo(p, 'signin-token');
    await p.keyboard.type(d.adminToken);
    await p.keyboard.press('Enter');
    await p.getByTestId('page-overview').waitFor();
  };
  const go = async (nav: string, pageId: string) => {
    await page.getByTestId(nav).click();
    await page.getByTestId(pageId).waitFor();
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
    await signInByKeyboard(page, () => shot('desktop-signin'));
    assert.equal(await page.getByTestId('signin-form').count(), 0);
    assert.equal(await page.getByTestId('overview-backend-state').textContent(), 'up');

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
    // A page on a LAN address over http has no clipboard API: the field's text is copied the old way.
    await secretModal.getByTestId('secret-value-copy').click();
    await secretModal.getByTestId('secret-value-copy').getByText('Copied').waitFor();
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

  test('plans & costs lists the catalog and the endpoint costs', async () => {
    await go('nav-plans', 'page-plans');
    await page.getByTestId('plan-row-chat_agent_train').waitFor();
    assert.match((await page.getByTestId('plan-row-chat_agent_train').textContent()) ?? '', /Pro/);
    await page.getByTestId('endpoints-table').locator('tbody tr', { hasText: '/v1/chat/completions' }).first().waitFor();
    await shot('desktop-plans');
  });

  test('the playground streams an answer with the key, shows its token counts, and snippets that name $HEARTH_API_KEY', async (t) => {
    await go('nav-playground', 'page-playground');
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
    t.diagnostic(`the answer was shown in ${partial.length + 1} steps`);
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

  test('usage shows the playground call by model with its tokens, and the chart and table change after another call', async () => {
    // The key's row for the model (its /v1/models calls have a row of their own, with no model).
    const row = () => page.getByTestId('usage-table').locator('tbody tr', { hasText: WORKSPACE }).filter({ hasText: 'hearth-demo' });
    const cells = async () => (await row().first().locator('td').allTextContents()).map((c) => c.trim());
    /** The chart's value for the day, in tokens, as its tooltip gives it. */
    const charted = async () => {
      await page.getByTestId('usage-metric').getByText('Tokens').click();
      const chart = page.getByTestId('usage-chart');
      await chart.locator('.recharts-bar-rectangle').first().hover();
      const tip = chart.locator('.recharts-tooltip-wrapper');
      await tip.getByText(WORKSPACE).waitFor();
      return Number(new RegExp(`${WORKSPACE}\\s*([\\d,]+)`).exec((await tip.textContent()) ?? '')?.[1]?.replace(/,/g, ''));
    };
    await go('nav-usage', 'page-usage');
    await row().first().waitFor();
    const [, ws, key, model, requests, prompt, completion] = await cells();
    assert.deepEqual([ws, key, model, requests, prompt, completion], [WORKSPACE, KEY_NAME, 'hearth-demo:latest', '1', String(playgroundTokens.prompt), String(playgroundTokens.completion)]);
    assert.equal(await charted(), playgroundTokens.prompt + playgroundTokens.completion, 'the chart shows the tokens of the call');
    await page.getByTestId('usage-budgets').locator('tr', { hasText: WORKSPACE }).waitFor();

    const again = await fetch(`${d.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${made.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'hearth-demo', messages: [{ role: 'user', content: 'Once more.' }], max_tokens: 8 }),
    });
    assert.equal(again.status, 200);
    const usage = ((await again.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    const total = { prompt: playgroundTokens.prompt + usage.prompt_tokens, completion: playgroundTokens.completion + usage.completion_tokens };
    await go('nav-overview', 'page-overview');
    await go('nav-usage', 'page-usage');
    await row().first().waitFor();
    const [, , , , requests2, prompt2, completion2] = await cells();
    assert.deepEqual([requests2, prompt2, completion2], ['2', String(total.prompt), String(total.completion)]);
    assert.equal(await charted(), total.prompt + total.completion, 'the chart has changed with the call');
    await shot('desktop-usage');
  });

  test('revokes the key in the console; the next call with it is refused', async () => {
    await go('nav-keys', 'page-keys');
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

  test('fine-tuning: a job made and started in the console streams its log and loss curve while it runs, succeeds, and is registered as a model', async (t) => {
    // The workspace's dataset, uploaded as its members would: through /api/v1 with a key that may train.
    const trainer = await d.admin<{ key: string }>('POST', '/api/admin/keys', { workspace: WORKSPACE, name: 'trainer' });
    assert.equal(trainer.status, 201);
    const dataset = await d.api<{ id: string }>(trainer.body.key, 'POST', '/finetune/datasets', { title: 'secret word', records: SECRET_WORD });
    assert.equal(dataset.status, 201, JSON.stringify(dataset.body));

    await go('nav-finetune', 'page-finetune');
    await page.getByTestId(`dataset-row-${dataset.body.id}`).waitFor();
    await choose(page, page.getByTestId('job-create-workspace'), WORKSPACE);
    await choose(page, page.getByTestId('job-create-dataset'), `secret word (${SECRET_WORD.length} records)`);
    await choose(page, page.getByTestId('job-create-base'), 'hearth-demo:latest');
    await page.getByTestId('job-create-epochs').fill(String(EPOCHS));
    await page.getByTestId('job-create-lr').fill('0.0002');
    assert.equal(await page.getByTestId('job-create-start').isChecked(), true, 'started at once by default');
    await page.getByTestId('job-create-submit').click();
    const detail = page.getByTestId('job-detail');
    await detail.waitFor();

    // What the page shows while the job runs: its state, the log's lines, the loss chart's points.
    const seen: Array<{ state: string; lines: number; points: number }> = [];
    const deadline = Date.now() + 240_000;
    for (;;) {
      const state = ((await detail.getByTestId('job-state').textContent()) ?? '').trim();
      const log = (await detail.getByTestId('job-log').textContent()) ?? '';
      const points = await detail.getByTestId('job-loss-chart').locator('.recharts-line-dot').count();
      seen.push({ state, lines: log === '' ? 0 : log.split('\n').length, points });
      if (['succeeded', 'failed', 'cancelled'].includes(state)) break;
      assert.ok(Date.now() < deadline, `the job ends in time; seen ${JSON.stringify(seen.slice(-3))}`);
      await page.waitForTimeout(100);
    }
    assert.equal(seen.at(-1)!.state, 'succeeded', (await detail.textContent()) ?? '');
    const running = seen.filter((o) => o.state === 'running');
    t.diagnostic(`while running: log lines ${running.map((o) => o.lines).join(' ')}; chart points ${running.map((o) => o.points).join(' ')}`);
    const grew = (of: 'lines' | 'points') => new Set(running.map((o) => o[of]).filter((n) => n > 0)).size >= 2;
    assert.ok(grew('lines'), `log lines arrived while it ran: ${JSON.stringify(running.map((o) => o.lines))}`);
    assert.ok(grew('points'), `the loss chart got points while it ran: ${JSON.stringify(running.map((o) => o.points))}`);
    const log = (await detail.getByTestId('job-log').textContent()) ?? '';
    assert.match(log, /job started: trainer llamacpp, base hearth-demo/);
    assert.match(log, /job succeeded$/);
    await detail.getByTestId('job-log-live').getByText('not streaming').waitFor();
    await shot('desktop-finetune');

    await detail.getByTestId('job-register-open').click();
    const dialog = page.getByTestId('job-register');
    await dialog.getByTestId('job-register-name').fill(TUNED);
    await dialog.getByTestId('job-register-submit').click();
    await detail.getByTestId('job-registered').waitFor({ timeout: 120_000 });
    assert.match((await detail.getByTestId('job-registered').textContent()) ?? '', new RegExp(`Registered as ${TUNED}`));

    await go('nav-models', 'page-models');
    const row = page.getByTestId(`model-row-${TUNED}:latest`);
    await row.waitFor();
    const [, owner, family, size] = (await row.locator('td').allTextContents()).map((c) => c.trim());
    assert.equal(owner, WORKSPACE, "the workspace's model");
    assert.equal(family, 'llama', "the backend's family of the model");
    assert.match(size ?? '', /^\d+(\.\d+)? (B|kB|KB|MB|KiB|MiB)$/, 'its size');
    await shot('desktop-models');
  });

  test("the overview shows the backend, the loaded models and the last hour's requests and credits", async () => {
    await go('nav-overview', 'page-overview');
    assert.equal(await page.getByTestId('overview-backend-state').textContent(), 'up');
    assert.equal(await page.getByTestId('overview-jobs-running').textContent(), '0');
    await page.getByTestId('overview-models-table').locator('tbody tr').first().waitFor();
    const totals = /^(\d+) requests, (\d+) errors, (\d+) credits in the last hour$/.exec(((await page.getByTestId('overview-totals').textContent()) ?? '').trim());
    assert.ok(totals && Number(totals[1]) > 0 && Number(totals[3]) > 0, `the walk's calls are counted: ${totals?.[0]}`);
    assert.ok((await page.getByTestId('overview-requests-chart').locator('.recharts-bar-rectangle').count()) >= 1, 'a bar of requests');
    await shot('desktop-overview');
  });

  test('the audit log lists the changes, and no secret', async () => {
    await go('nav-audit', 'page-audit');
    await page.getByTestId('audit-row').first().waitFor();
    const actions = (await page.getByTestId('audit-action').allTextContents()).map((a) => a.trim());
    for (const a of ['adminCreateSession', 'adminCreateWorkspace', 'adminCreateKey', 'adminRevokeKey', 'adminCreateJob', 'adminStartJob', 'adminRegisterJob']) assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
    const revoked = page.getByTestId('audit-row').filter({ has: page.getByTestId('audit-action').getByText('adminRevokeKey', { exact: true }) });
    assert.match((await revoked.textContent()) ?? '', new RegExp(`session:[0-9a-f]{8}.*id=${made.id}`), "by the console's session, naming the key");
    const state = await pageState(page);
    assert.ok(state.includes(WORKSPACE), 'the details name the workspace');
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

  test("at a phone's width the navigation folds behind a menu button; the keyboard signs in, opens it and follows a link; every page fits", async () => {
    const phone = await guardedContext(browser, origin, traffic, { viewport: PHONE, hasTouch: true });
    const p = await phone.newPage();
    const fits = async (name: string) => {
      const [scroll, client] = await p.evaluate<[number, number]>('[document.documentElement.scrollWidth, document.documentElement.clientWidth]');
      assert.ok(scroll <= client, `${name}: no sideways scrolling of the page (${scroll} > ${client})`);
      await screenshot(p, 'console', `phone-${name}`);
    };
    await signInByKeyboard(p, () => fits('signin'));
    assert.equal(await p.getByTestId('nav-keys').isVisible(), false, 'the navigation is folded away');
    await fits('overview');

    await tabTo(p, 'nav-burger');
    await p.keyboard.press('Enter');
    await p.getByTestId('nav-keys').waitFor({ state: 'visible' });
    assert.equal(await p.getByTestId('nav-burger').getAttribute('aria-expanded'), 'true');
    await tabTo(p, 'nav-keys');
    await p.keyboard.press('Enter');
    await p.getByTestId('page-keys').waitFor();
    await p.getByTestId('nav-keys').waitFor({ state: 'hidden' });
    await fits('keys');

    for (const name of ['plans', 'usage', 'models', 'finetune', 'audit', 'playground']) {
      await p.getByTestId('nav-burger').click();
      await p.getByTestId(`nav-${name}`).click();
      await p.getByTestId(`page-${name}`).waitFor();
      await p.getByTestId(`nav-${name}`).waitFor({ state: 'hidden' });
      await fits(name);
    }
    await phone.close();
  });

  test('no request left the daemon: every one went to the LAN-style address, and no script failed', () => {
    assert.ok(traffic.requests.length > 50, `the pages' requests were recorded (${traffic.requests.length})`);
    assert.deepEqual(traffic.foreign, [], 'no request to another address');
    assert.deepEqual(traffic.requests.filter((u) => !u.startsWith(`${origin}/`)), []);
    assert.deepEqual(traffic.errors, [], 'no script error in any page');
    for (const secret of [d.adminToken, made.secret]) assert.equal(traffic.requests.some((u) => u.includes(secret)), false, 'no secret in any URL');
  });
});

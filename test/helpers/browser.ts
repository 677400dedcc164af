// Debian's Chromium driven by playwright-core, as the browser tests use it: opened on a LAN-style
// host name (mapped to the loopback address inside Chromium, as an operator's LAN address would
// be), with every request the pages make recorded and any to another address aborted, and
// screenshots kept as test artifacts.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

export const CHROMIUM = process.env.HEARTH_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Why a browser test cannot run here, or undefined when it can. */
export const chromiumMissing = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (Debian's chromium package; set HEARTH_TEST_CHROMIUM to use another)`;
/** The name the pages are opened under: not localhost, which browsers treat as a secure context. */
export const LAN_HOST = 'hearth.test';

/** Where screenshots go: HEARTH_TEST_ARTIFACTS, else test-artifacts/ at the repository's root (ignored by git). */
export const artifactsDir = process.env.HEARTH_TEST_ARTIFACTS ?? fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      `--host-resolver-rules=MAP ${LAN_HOST} 127.0.0.1`,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The daemon's origin under the LAN-style name. */
export const lanOrigin = (daemonUrl: string): string => `http://${LAN_HOST}:${new URL(daemonUrl).port}`;

/** Every request the pages of a guarded context made, those to another address (aborted), and the pages' script errors. */
export interface Traffic {
  requests: string[];
  foreign: string[];
  errors: string[];
}

/**
 * A browser context that lets through only requests to `origin` (and inline data) and records
 * every request, so a test can assert that nothing left the daemon.
 */
export async function guardedContext(browser: Browser, origin: string, traffic: Traffic, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  context.on('request', (r) => traffic.requests.push(r.url()));
  context.on('page', (page) => page.on('pageerror', (e) => traffic.errors.push(e.message)));
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    traffic.foreign.push(url);
    return route.abort('blockedbyclient');
  });
  return context;
}

/** Writes `<artifactsDir>/<folder>/<name>.png` of the whole page once no button shows it is loading; returns its path. */
export async function screenshot(page: Page, folder: string, name: string): Promise<string> {
  // Mantine marks a button that waits for an answer with data-loading.
  await page.locator('[data-loading]').first().waitFor({ state: 'detached' });
  const dir = join(artifactsDir, folder);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

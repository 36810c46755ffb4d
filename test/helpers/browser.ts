/**
 * Headless Chromium (the Debian package at /usr/bin/chromium) driven by playwright-core, with a
 * fresh user data directory per context, and every console error and page error collected so
 * tests can require pages to render cleanly.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from './paths.js';

export const CHROMIUM = process.env.P2PCLOUD_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const artifactsDir = join(repoRoot, 'test-artifacts');

export interface BrowserUser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught page errors so far. */
  readonly errors: string[];
  screenshot(name: string): Promise<void>;
}

/** A browser of its own (fresh profile, removed afterwards) for one user. */
export async function openBrowser(name: string): Promise<BrowserUser> {
  const profile = mkdtempSync(join(tmpdir(), `p2pcloud-chromium-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  // Close the browser before its profile goes: Chromium writes to it until it exits.
  after(async () => {
    await context.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });
  context.setDefaultTimeout(30_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      errors.push(`${name} console: ${message.text()} (${message.location().url || 'page'})`);
    }
  });
  page.on('pageerror', (error) => errors.push(`${name} page error: ${error.message}`));
  mkdirSync(artifactsDir, { recursive: true });
  return {
    context,
    page,
    errors,
    screenshot: async (file) => {
      await page.screenshot({ path: join(artifactsDir, `${file}.png`), fullPage: true });
    },
  };
}

/**
 * Waits until `predicate`, run in the page, returns something truthy. Playwright's own
 * waitForFunction polls with `eval` inside the page, which the pages' Content Security Policy
 * (script-src 'self') forbids once the first check has failed; page.evaluate runs through the
 * DevTools protocol, which the policy does not govern.
 */
export async function waitInPage<A>(
  page: Page,
  predicate: string | ((arg: A) => unknown),
  arg?: A,
  options: { timeout?: number; interval?: number } = {},
): Promise<void> {
  const timeout = options.timeout ?? 30_000;
  const interval = options.interval ?? 50;
  const deadline = Date.now() + timeout;
  for (;;) {
    const value: unknown =
      typeof predicate === 'string'
        ? await page.evaluate(predicate)
        : await page.evaluate(predicate as (arg: unknown) => unknown, arg as unknown);
    if (value) return;
    if (Date.now() >= deadline) {
      throw new Error(`waited ${timeout} ms in the page for: ${String(predicate)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

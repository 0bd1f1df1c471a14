import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from './process.js';

/** Debian's chromium (installed by .ci/run); CHROMIUM_PATH names another. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where browser tests leave their screenshots for a reviewer (git-ignored). */
export const SCREENSHOTS = resolve(ROOT, 'test-output/explorer');

export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (bash .ci/run does) or set CHROMIUM_PATH`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps'],
  });
}

/** What a page asked for beyond the origins it may reach: each request stopped and recorded. */
export interface Fence {
  context: BrowserContext;
  /** URLs of requests to other origins (aborted, or handled by a test's own route). */
  foreign: string[];
  /** URLs of every request let through, and of every WebSocket opened. */
  allowed: string[];
}

/**
 * A browser context in which only `origins` are reachable: every other request is aborted (as a
 * machine with no network would fail it) unless `handle` takes it (a slow or fake CDN).
 */
export async function fencedContext(browser: Browser, origins: string[], handle?: (url: string) => ((route: import('playwright-core').Route) => Promise<void>) | undefined): Promise<Fence> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const fence: Fence = { context, foreign: [], allowed: [] };
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (origins.some((o) => url.startsWith(`${o}/`)) || url.startsWith('data:')) {
      fence.allowed.push(url);
      return route.continue();
    }
    fence.foreign.push(url);
    const custom = handle?.(url);
    return custom ? custom(route) : route.abort('internetdisconnected');
  });
  // Route interception does not see WebSockets: record them as pages open them.
  context.on('page', (page) => page.on('websocket', (ws) => fence.allowed.push(ws.url())));
  // Content-Security-Policy violations, collected in the page (init scripts are not subject to it).
  await context.addInitScript(() => {
    const w = globalThis as any;
    w.__csp = [];
    w.document.addEventListener('securitypolicyviolation', (e: any) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return fence;
}

const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const RESPONSE = '.graphiql-response .CodeMirror';

// Functions given to page.evaluate run in the page; this project's types have no DOM, so they
// reach it through an untyped globalThis.

/** GraphiQL (CodeMirror 5): replace the query, run it, and wait for a response that satisfies `done`. */
export async function runInGraphiQL(page: Page, query: string, done: (response: string) => boolean = () => true, timeoutMs = 10_000): Promise<string> {
  await page.locator(QUERY_EDITOR).waitFor();
  const before = await responseText(page);
  await page.evaluate(([selector, text]) => (globalThis as any).document.querySelector(selector).CodeMirror.setValue(text), [QUERY_EDITOR, query]);
  // GraphiQL settles the operation name after an edit; running at once sends the previous one.
  await page.waitForTimeout(400);
  await page.locator('.graphiql-execute-button').click();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await responseText(page);
    if (text !== before && text.trim() !== '' && done(text)) return text;
    if (Date.now() > deadline) throw new Error(`no matching response to ${query} in ${timeoutMs} ms; the page shows: ${text.slice(0, 500)}`);
    await page.waitForTimeout(100);
  }
}

export function responseText(page: Page): Promise<string> {
  return page.evaluate((selector) => (globalThis as any).document.querySelector(selector)?.CodeMirror.getValue() ?? '', RESPONSE);
}

/** Sets the Headers tab (opening it), as a person would paste a token. */
export async function setHeaders(page: Page, headers: Record<string, string>): Promise<void> {
  await page.getByRole('button', { name: 'Headers' }).first().click();
  await page.evaluate((text) => {
    const editors = [...(globalThis as any).document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].filter((e: any) => e.offsetParent);
    editors.at(-1).CodeMirror.setValue(text);
  }, JSON.stringify(headers, null, 2));
}

export function headersText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const editors = [...(globalThis as any).document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].filter((e: any) => e.offsetParent);
    return (editors.at(-1)?.CodeMirror.getValue() as string | undefined) ?? '';
  });
}

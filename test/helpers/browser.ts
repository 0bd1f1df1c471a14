import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Frame, type Page, type Request } from 'playwright-core';
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

/**
 * Watches a page load that has a time limit: `within(step)` awaits the step and, if it fails,
 * says where the time went: what the page loaded, failed and navigated to (ms since `started`, as
 * this process saw it), the browser's own timings of the current document and its resources, what
 * the page shows, the machine's load average and this process' longest event-loop delay (which
 * counts the monitor's 20 ms sampling). URLs are shown without their query strings and bearer
 * tokens as "…": either may carry a session. `stop()` ends the watching.
 */
export function watchLoad(page: Page, origin: string, started: number): { within: (step: Promise<unknown>) => Promise<void>; stop: () => void } {
  const timeline: string[] = [];
  const mark = (what: string) => timeline.push(`${Date.now() - started} ms ${what}`);
  const shown = (url: string) => url.replace(origin, '').replace(/\?.*$/s, '?…');
  const loaded = (r: Request) => mark(`loaded ${shown(r.url())}`);
  const failed = (r: Request) => mark(`failed ${shown(r.url())}`);
  const navigated = (f: Frame) => f === page.mainFrame() && mark(`at ${shown(f.url())}`);
  page.on('requestfinished', loaded);
  page.on('requestfailed', failed);
  page.on('framenavigated', navigated);
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  const stop = () => {
    delay.disable();
    page.off('requestfinished', loaded);
    page.off('requestfailed', failed);
    page.off('framenavigated', navigated);
  };
  const within = async (step: Promise<unknown>) => {
    try {
      await step;
    } catch (error) {
      stop();
      // The browser's view, if it answers within 2 s: a hung page must not turn this report into the test's timeout.
      let timer: NodeJS.Timeout | undefined;
      const inPage = await Promise.race([
        page.evaluate(() => {
          const w = globalThis as any;
          const nav = w.performance.getEntriesByType('navigation')[0] ?? {};
          // A moment the document has not reached yet is 0: shown as null, not as its start.
          const at = (t: number | undefined) => (t ? Math.round(w.performance.timeOrigin + t) : null);
          const path = (url: string) => url.replace(w.location.origin, '').replace(/\?.*$/s, '?…');
          return {
            document: { url: w.location.pathname, started: Math.round(w.performance.timeOrigin), responseEnd: at(nav.responseEnd), domContentLoaded: at(nav.domContentLoadedEventEnd), load: at(nav.loadEventEnd) },
            resources: w.performance.getEntriesByType('resource').map((e: any) => `${path(e.name)} ${Math.round(e.startTime)}-${Math.round(e.responseEnd)} ms`),
            // The Headers tab may be on screen: its session token is not for a test log.
            shows: String(w.document.body?.innerText ?? '').slice(0, 300).replace(/(Bearer\s+)[^\s"']+/gi, '$1…'),
          };
        }),
        new Promise<{ unreadable: string }>((r) => (timer = setTimeout(() => r({ unreadable: 'the page did not answer within 2 s' }), 2_000))),
      ]).catch((e: Error) => ({ unreadable: e.message }));
      clearTimeout(timer);
      const relative = JSON.stringify(inPage, (_k, v) => (typeof v === 'number' && v > 1e12 ? v - started : v), 1);
      throw new Error(
        [
          (error as Error).message,
          "the page's timeline, as this process saw it:",
          ...timeline,
          `the page's own timings (ms since the start, resources from its document's start): ${relative}`,
          `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; this process' longest event-loop delay ${Math.round(delay.max / 1e6)} ms`,
        ].join('\n'),
        { cause: error },
      );
    }
  };
  return { within, stop };
}

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { fencedContext, headersText, launchBrowser, runInGraphiQL, SCREENSHOTS, setHeaders, watchLoad } from '../../../helpers/browser.js';
import { spawnGateway, type GatewayProcess } from '../../../helpers/process.js';

/**
 * The explorer in a real browser (Debian's Chromium, headless) against the gateway as `npm start`
 * runs it (demo mode): offline, with a hanging CDN, with a CDN that works, and from other origins.
 */

const CDN = 'https://embeddable-sandbox.cdn.apollographql.com/';

/** A page on its own origin that asks the gateway for the devices with fetch, as a frontend would. */
async function frontend(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>frontend</title><p>frontend</p>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('the explorer in Chromium', () => {
  let browser: Browser;
  let gw: GatewayProcess;
  let token: string;
  let listed: { server: Server; origin: string };
  let unlisted: { server: Server; origin: string };

  beforeAll(async () => {
    [listed, unlisted] = await Promise.all([frontend(), frontend()]);
    // The demo as a user starts it, with one frontend origin allowed.
    [browser, gw] = await Promise.all([launchBrowser(), spawnGateway({ CORS_ORIGINS: listed.origin })]);
    token = /Authorization: Bearer (\S+)/.exec(gw.stdout())![1]!;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    gw?.child.kill('SIGTERM');
    await gw?.exit;
    listed?.server.close();
    unlisted?.server.close();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`) });
  const csp = (page: Page) => page.evaluate(() => (globalThis as any).__csp as string[]);

  test('offline: the local explorer within 5 s; a query, a login, a query with its token and a subscription run; nothing leaves loopback', async () => {
    const fence = await fencedContext(browser, [gw.url]);
    const page = await fence.context.newPage();
    const started = Date.now();
    // What the page fetched and when: a failure says where the 5 s went.
    const load = watchLoad(page, gw.url, started);
    await page.goto(`${gw.url}/`).catch(() => undefined); // the page moves on by itself
    // What is left of the 5 s (at least 1 ms: Playwright reads 0 as no limit).
    const left = () => Math.max(1, 5_000 - (Date.now() - started));
    await load.within(page.waitForURL(/\/explorer\?from=sandbox&reason=/, { timeout: left() }));
    await load.within(page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: left() }));
    load.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    // The demo's ready session in the Headers tab, the demo logins on the page.
    expect(JSON.parse(await headersText(page))).toEqual({ Authorization: `Bearer ${token}` });
    expect(await page.locator('#demo-logins').textContent()).toContain('ada@example.com / demo-ada-1');

    const devices = JSON.parse(await runInGraphiQL(page, '{ devices { id name } }', (r) => r.includes('room-101')));
    expect(devices.data.devices.map((d: { id: string }) => d.id)).toContain('room-101');
    expect(await page.locator('#explorer-status').textContent()).toContain('Apollo Sandbox did not load');
    // The README's picture (docs/explorer-offline.png): the query and its answer, the token's editor folded.
    await page.getByRole('button', { name: 'Hide editor tools' }).click();
    await shot(page, 'local-explorer-query');
    await page.getByRole('button', { name: 'Show editor tools' }).click();

    // A login of someone else (no header: a new session), then their token in the header: the session is theirs.
    await setHeaders(page, {});
    const login = JSON.parse(await runInGraphiQL(page, 'mutation { loginClient(email: "grace@example.com", password: "demo-grace-1") { token } }', (r) => r.includes('token') || r.includes('errors')));
    const grace = login.data.loginClient.token as string;
    expect(grace).toBeTruthy();
    await setHeaders(page, { Authorization: `Bearer ${grace}` });
    const session = JSON.parse(await runInGraphiQL(page, '{ session { clientAccount { email } } }', (r) => r.includes('email')));
    expect(session.data.session.clientAccount.email).toBe('grace@example.com');

    // A subscription over graphql-ws on /graphql, with the header as the connection's parameters.
    const live = await runInGraphiQL(page, 'subscription { deviceConnection(deviceId: "room-101") { online at } }', (r) => r.includes('"online": true'), 15_000);
    expect(JSON.parse(live).data.deviceConnection.online).toBe(true);
    await shot(page, 'local-explorer-subscription');

    // Docs from introspection, and the history of what ran.
    await page.locator('button[aria-label="Show Documentation Explorer"]').click();
    await page.locator('.graphiql-doc-explorer').getByText('Subscription').first().waitFor();
    await page.locator('button[aria-label="Show History"]').click();
    expect(await page.locator('.graphiql-history-item').count()).toBeGreaterThanOrEqual(4);
    // History holds headers, so it lives in this tab's sessionStorage, never in localStorage.
    expect(await page.evaluate(() => JSON.stringify({ ...(globalThis as any).localStorage }))).not.toContain(grace);

    expect(await csp(page)).toEqual([]);
    // The only request for another origin was Sandbox's script, and it was stopped here.
    expect(fence.foreign.every((u) => u.startsWith(CDN))).toBe(true);
    expect(fence.foreign.length).toBeGreaterThanOrEqual(1);
    expect(fence.allowed.every((u) => /^(wss?|https?):\/\/127\.0\.0\.1:\d+\//.test(u) || u.startsWith('data:'))).toBe(true);
    expect(fence.allowed.some((u) => u.startsWith('ws://127.0.0.1'))).toBe(true);
    await fence.context.close();
  }, 60_000);

  test('a hanging CDN: a loading state, then the local explorer', async () => {
    const fence = await fencedContext(browser, [gw.url], (url) => (url.startsWith(CDN) ? () => new Promise<void>(() => undefined) : undefined));
    const page = await fence.context.newPage();
    await page.goto(`${gw.url}/`, { waitUntil: 'domcontentloaded' });
    await page.getByText('Loading Apollo Sandbox').waitFor();
    await shot(page, 'sandbox-loading');
    await page.waitForURL(/\/explorer\?from=sandbox&reason=timeout/, { timeout: 8_000 });
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
    await shot(page, 'local-explorer-after-timeout');
    expect(fence.foreign.every((u) => u.startsWith(CDN))).toBe(true);
    await fence.context.close();
  }, 30_000);

  test('a CDN that answers: Sandbox opens on /graphql with the demo session, under the page’s CSP', async () => {
    // Apollo's script stood in for by one that records how the page starts it.
    const sandbox = 'window.EmbeddedSandbox = function (o) { window.__sandbox = o; document.querySelector(o.target).textContent = "sandbox here"; };';
    const fence = await fencedContext(browser, [gw.url], (url) => (url.startsWith(CDN) ? (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: sandbox }) : undefined));
    const page = await fence.context.newPage();
    await page.goto(`${gw.url}/`);
    await page.getByText('sandbox here').waitFor();
    const options = await page.evaluate(() => (globalThis as any).__sandbox);
    expect(options.initialEndpoint).toBe(`${gw.url}/graphql`);
    expect(options.initialState.headers).toEqual({ Authorization: `Bearer ${token}` });
    expect(options.initialState.includeCookies).toBe(false);
    await page.waitForTimeout(4_500); // past the fallback's wait: it stays
    expect(page.url()).toBe(`${gw.url}/`);
    expect(await csp(page)).toEqual([]);

    // The switch: remembered, `/` opens the local explorer without asking the CDN again.
    await page.goto(`${gw.url}/explorer`);
    await page.locator('#keep-local').click();
    const asked = fence.foreign.length;
    await page.goto(`${gw.url}/`).catch(() => undefined);
    await page.waitForURL(`${gw.url}/explorer`);
    expect(fence.foreign.length).toBe(asked);
    // And back to Sandbox from the link on the page.
    await page.locator('#to-sandbox').click();
    await page.getByText('sandbox here').waitFor();
    expect(fence.foreign.length).toBe(asked + 1);
    await fence.context.close();
  }, 30_000);

  test('CORS: a page on a listed origin runs a query with fetch; one not listed is refused by the browser', async () => {
    const fence = await fencedContext(browser, [gw.url, listed.origin, unlisted.origin]);
    const page = await fence.context.newPage();
    const ask = async (origin: string) => {
      await page.goto(`${origin}/`);
      return page.evaluate(async (url) => {
        try {
          const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ devices { id } }' }) });
          return { status: res.status, body: await res.json() };
        } catch (error) {
          return { refused: String(error) };
        }
      }, gw.url);
    };
    const ok = (await ask(listed.origin)) as { status: number; body: { data: { devices: Array<{ id: string }> } } };
    expect(ok.status).toBe(200);
    expect(ok.body.data.devices.length).toBeGreaterThan(0);
    expect(await ask(unlisted.origin)).toEqual({ refused: expect.stringContaining('Failed to fetch') });
    await fence.context.close();
  }, 30_000);
});

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { ConfigError, loadConfig } from '../../../../src/config/load.js';
import { startGateway, type TestGateway } from '../../../helpers/gateway.js';
import { ROOT } from '../../../helpers/process.js';

/** The explorer's pages and files over HTTP: hashed names, compression, caching, CSP, the EXPLORER switch. */

const configOf = (html: string) => JSON.parse(/id="explorer-config">(.*?)<\/script>/.exec(html)![1]!) as Record<string, any>;
const scripts = (html: string) => [...html.matchAll(/(?:src|href)="(\/explorer\/assets\/[^"]+)"/g)].map((m) => m[1]!);

describe('the explorer’s pages and files', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({});
  });
  afterAll(() => gw.close());

  test('/explorer: GraphiQL from this origin only, under a CSP that allows nothing else', async () => {
    const res = await fetch(`${gw.url}/explorer`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toMatch(/https?:|unsafe-inline|unsafe-eval|\*/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).not.toContain('apollographql.com');
    const names = scripts(html).map((u) => u.slice('/explorer/assets/'.length).replace(/\.[0-9a-f]{12}\./, '.'));
    expect([...names].sort()).toEqual(['explorer.css', 'graphiql.css', 'graphiql.js', 'local.js', 'react-dom.js', 'react.js']);
    // GraphiQL's bundle reads the React globals: React, then ReactDOM, then GraphiQL, then ours.
    expect(names.filter((n) => n.endsWith('.js'))).toEqual(['react.js', 'react-dom.js', 'graphiql.js', 'local.js']);
    expect(configOf(html)).toMatchObject({ endpoint: '/graphql', headers: { Authorization: 'Bearer <paste the token of a login here>' } });
  });

  test('every file: named by its content’s hash, compressed as asked, cacheable for a year, 304 when unchanged', async () => {
    const html = await (await fetch(`${gw.url}/explorer`)).text();
    const originals: Record<string, string> = {
      'graphiql.js': 'node_modules/graphiql/graphiql.min.js',
      'graphiql.css': 'node_modules/graphiql/graphiql.min.css',
      'react.js': 'node_modules/react/umd/react.production.min.js',
      'react-dom.js': 'node_modules/react-dom/umd/react-dom.production.min.js',
      'local.js': 'src/app/explorer/browser/local.js',
      'explorer.css': 'src/app/explorer/browser/explorer.css',
    };
    for (const url of scripts(html)) {
      const name = url.slice('/explorer/assets/'.length).replace(/\.[0-9a-f]{12}\./, '.');
      const raw = readFileSync(resolve(ROOT, originals[name]!));
      expect(url).toContain(`.${createHash('sha256').update(raw).digest('hex').slice(0, 12)}.`);
      const br = await fetch(`${gw.url}${url}`, { headers: { 'accept-encoding': 'gzip, br' } });
      // fetch decodes; the headers say what travelled.
      expect(br.headers.get('content-encoding')).toBe('br');
      expect(br.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(br.headers.get('vary')).toBe('accept-encoding');
      expect(br.headers.get('content-type')).toMatch(name.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(Buffer.from(await br.arrayBuffer()).equals(raw)).toBe(true);
      const gz = await rawGet(`${gw.url}${url}`, 'gzip');
      expect(gz.encoding).toBe('gzip');
      expect(gunzipSync(gz.body).equals(raw)).toBe(true);
      if (raw.length > 100_000) expect(gz.body.length).toBeLessThan(raw.length * 0.7);
      const plain = await rawGet(`${gw.url}${url}`, 'identity');
      expect(plain.encoding).toBeUndefined();
      expect(plain.body.equals(raw)).toBe(true);
      const brRaw = await rawGet(`${gw.url}${url}`, 'br;q=1, gzip;q=0.5');
      expect(brotliDecompressSync(brRaw.body).equals(raw)).toBe(true);
      const again = await fetch(`${gw.url}${url}`, { headers: { 'if-none-match': br.headers.get('etag')! } });
      expect(again.status).toBe(304);
    }
    // A refusal of an encoding is honoured.
    expect((await rawGet(`${gw.url}${scripts(html)[0]}`, 'br;q=0, gzip')).encoding).toBe('gzip');
  });

  test('an unknown or stale hash is 404; anything but GET or HEAD is 405', async () => {
    expect((await fetch(`${gw.url}/explorer/assets/graphiql.000000000000.js`)).status).toBe(404);
    expect((await fetch(`${gw.url}/explorer/assets/../../package.json`)).status).toBe(404);
    expect((await fetch(`${gw.url}/explorer`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${gw.url}/explorer`, { method: 'HEAD' })).status).toBe(200);
  });

  test('/: Sandbox first (EXPLORER=auto), its CSP allowing Apollo’s script and frame origins only', async () => {
    const res = await fetch(`${gw.url}/`);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self' https://embeddable-sandbox.cdn.apollographql.com");
    expect(csp).toContain('frame-src https://sandbox.embed.apollographql.com');
    expect(csp).toContain("default-src 'self'");
    const config = configOf(await res.text());
    expect(config).toMatchObject({ mode: 'auto', localUrl: '/explorer', endpoint: '/graphql', timeoutMs: 4000 });
  });

  test('EXPLORER=local: / is the local explorer, nothing from a CDN; EXPLORER=sandbox: no automatic fallback; anything else is refused by name', async () => {
    const local = await startGateway({ EXPLORER: 'local' });
    try {
      const html = await (await fetch(`${local.url}/`)).text();
      expect(html).toContain('graphiql');
      expect(html).not.toContain('apollographql.com');
    } finally {
      await local.close();
    }
    const sandbox = await startGateway({ EXPLORER: 'sandbox' });
    try {
      expect(configOf(await (await fetch(`${sandbox.url}/`)).text()).mode).toBe('sandbox');
    } finally {
      await sandbox.close();
    }
    expect(() => loadConfig({ EXPLORER: 'graphiql' })).toThrow(ConfigError);
    expect(() => loadConfig({ EXPLORER: 'graphiql' })).toThrow(/EXPLORER: must be auto, local or sandbox/);
  });
});

/** A GET that keeps the body as sent (fetch would decode it). */
async function rawGet(url: string, acceptEncoding: string): Promise<{ encoding?: string; body: Buffer }> {
  const { request } = await import('node:http');
  return new Promise((resolvePromise, reject) => {
    request(url, { headers: { 'accept-encoding': acceptEncoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

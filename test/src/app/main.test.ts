import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gql } from '../../helpers/gateway.js';
import { ROOT, spawnGateway, type GatewayProcess } from '../../helpers/process.js';

describe('the process (src/app/main.ts)', () => {
  let proc: GatewayProcess | undefined;
  afterEach(() => {
    proc?.child.kill('SIGKILL');
    proc = undefined;
  });

  test('with no configuration it starts in demo mode: explorer URL, demo logins, a ready session', async () => {
    proc = await spawnGateway({});
    const out = proc.stdout();
    expect(out).toContain('Switchboard (demo mode) is listening.');
    expect(out).toMatch(/Explorer:\s+http:\/\/127\.0\.0\.1:\d+\//);
    expect(out).toContain('ada@example.com / demo-ada-1');
    const token = /Authorization: Bearer (\S+)/.exec(out)![1]!;
    expect((await gql(proc.url, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    expect((await fetch(`${proc.url}/health`)).status).toBe(200);
    expect((await gql(proc.url, '{ session { clientAccount { email } } }', undefined, token)).data).toEqual({ session: { clientAccount: { email: 'ada@example.com' } } });
    // The explorer opens with that same session in its Headers tab, and the demo logins on the page.
    for (const path of ['/', '/explorer']) {
      const html = await (await fetch(`${proc.url}${path}`, { headers: { accept: 'text/html' } })).text();
      expect(JSON.parse(/id="explorer-config">(.*?)<\/script>/.exec(html)![1]!).headers).toEqual({ Authorization: `Bearer ${token}` });
      expect(html).toContain('ada@example.com / demo-ada-1');
    }
  });

  test('DEMO=true ignores vendor variables, even invalid ones, and says so', async () => {
    proc = await spawnGateway({ DEMO: 'true', NUVEQ_API_ID: 'not-a-number', PLATFORM_URL: 'http://203.0.113.9' });
    expect(proc.stdout()).toContain('Switchboard (demo mode) is listening.');
    expect(proc.stderr()).toContain('DEMO=true: ignoring NUVEQ_API_ID, PLATFORM_URL');
    // The demo's own Platform simulator answers, not the address the operator's variable named.
    expect((await gql(proc.url, 'mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }')).data?.loginClient?.token).toBeTruthy();
  });

  test('a .env file in the working directory is read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-env-'));
    writeFileSync(join(dir, '.env'), 'GRAPHQL_INTROSPECTION=false\n');
    proc = await spawnGateway({}, 30_000, { cwd: dir });
    const intro = await gql(proc.url, '{ __schema { queryType { name } } }');
    expect(intro.errors?.[0]?.message).toMatch(/introspection/i);
  });

  test('`npm start`: SIGTERM sent to npm itself reaches the server, which drains and exits 0', async () => {
    proc = await spawnGateway({ DEMO_LATENCY_MS: '1500' }, 120_000, { command: ['npm', 'start', '--silent'] });
    const slow = gql(proc.url, '{ nexudusUserExists(email: "member@coworking.example") }');
    await new Promise((r) => setTimeout(r, 300));
    proc.child.kill('SIGTERM');
    expect((await slow).data).toEqual({ nexudusUserExists: true });
    expect(await proc.exit).toBe(0);
    // Nothing is left listening: the node process was npm's own, not an orphan.
    await expect(fetch(`${proc.url}/health`)).rejects.toThrow();
  }, 150_000);

  test('SIGTERM during a slow request lets it finish, refuses new connections, then exits 0', async () => {
    proc = await spawnGateway({ DEMO_LATENCY_MS: '1500' });
    const started = Date.now();
    const slow = gql(proc.url, '{ nexudusUserExists(email: "member@coworking.example") }');
    await new Promise((r) => setTimeout(r, 300));
    proc.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${proc.url}/health`)).rejects.toThrow();
    const res = await slow;
    expect(res.data).toEqual({ nexudusUserExists: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(await proc.exit).toBe(0);
  });

  test('bad configuration stops start-up with one message naming every variable, and no value', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/app/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, SESSION_SECRET: 'too-short-secret', PLATFORM_SERVICE_PASSWORD: 'pw-that-must-not-print', NUVEQ_API_ID: 'x' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(1);
    for (const name of ['SESSION_SECRET', 'PLATFORM_SERVICE_USERNAME', 'PLATFORM_ID', 'NUVEQ_TOKEN_KEY', 'NUVEQ_API_ID', 'NUVEQ_PORT']) expect(err).toContain(`${name}:`);
    expect(err).not.toContain('pw-that-must-not-print');
    expect(err).not.toContain('too-short-secret');
  });
});

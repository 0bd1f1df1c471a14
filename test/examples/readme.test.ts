import type { NexudusSimulator } from '../../simulators/nexudus/simulator.js';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startDemo, type Demo } from '../../simulators/demo.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { cleanEnv, ROOT } from '../helpers/process.js';
import { subscribe } from '../helpers/subscriptions.js';
import type { NurevaSimulator } from '../../simulators/nureva/simulator.js';

/**
 * The README's shell blocks, run as written: the quick start as a user types it, the `gql` examples
 * against a demo, and every GraphQL document the README shows through that same `gql`.
 */
const README = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
const shellBlocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
const graphqlBlocks = [...README.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);

function bash(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) =>
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Operations of a GraphQL block, one document each (comments dropped). */
function operations(block: string): string[] {
  const lines = block.split('\n').filter((l) => !l.trim().startsWith('#'));
  const ops: string[][] = [];
  for (const line of lines) {
    if (/^(query|mutation|subscription)\b|^\{/.test(line)) ops.push([line]);
    else if (line.trim() && ops.length) ops[ops.length - 1]!.push(line);
  }
  return ops.map((o) => o.join('\n'));
}

describe('the README', () => {
  let demo: Demo;
  let gw: TestGateway;
  beforeAll(async () => {
    demo = await startDemo();
    demo.sim<NexudusSimulator>('nexudus').enforceLimits = false;
    gw = await startGateway(demo.env, {});
  });
  afterAll(async () => {
    await gw.close();
    await demo.stop();
  });

  const helper = shellBlocks.find((b) => b.startsWith('gql() {'))!;

  test('has the quick start, the gql examples, the event-stream example and the SDK install (run by test/sdk/package.test.ts) as shell blocks, and no other', () => {
    expect(shellBlocks).toHaveLength(4);
    expect(shellBlocks.filter((b) => b.includes('npm pack --workspace sdk'))).toHaveLength(1);
    expect(shellBlocks[0]).toMatch(/^npm install && npm start\s/);
    expect(helper).toBeDefined();
  });

  test('the gql examples run as written: each answers data and no errors', async () => {
    const { code, stdout, stderr } = await bash(helper, { ...cleanEnv(), SWITCHBOARD_URL: gw.url });
    expect([code, stderr]).toEqual([0, '']);
    const answers = stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { data?: unknown; errors?: unknown });
    expect(answers).toHaveLength(4);
    for (const a of answers) expect(a.errors).toBeUndefined();
    expect(JSON.stringify(answers[1])).toContain('"nuveqUsers":[{"userId":"1001"');
    expect(JSON.stringify(answers[2])).toContain('"vendor":"NUREVA"');
    expect(answers[3]).toEqual({ data: { logout: true } });
  });

  test('every GraphQL document it shows runs through gql, in order, as a reader would (one session)', async () => {
    const define = helper.slice(0, helper.indexOf('\n}\n') + 3);
    let ran = 0;
    let token = '';
    for (const block of graphqlBlocks.filter((b) => !b.includes('type Query') && !b.includes('interface User'))) {
      for (const op of operations(block)) {
        if (op.startsWith('subscription')) {
          // Over the WebSocket, as Sandbox or Apollo Client would: the first answer has data.
          const room = demo.sim<Map<string, NurevaSimulator>>('nureva').get('room-101')!;
          const live = subscribe('ws', gw.url, token, op);
          const pulling = setInterval(() => room.pullCable(room.deviceStatus === 'Ok'), 500);
          try {
            const first = await live.waitFor(() => true, 10_000);
            expect([op, first.errors, first.data && Object.keys(first.data)]).toEqual([op, undefined, [expect.any(String)]]);
          } finally {
            clearInterval(pulling);
            live.close();
            room.pullCable(false);
          }
          ran++;
          continue;
        }
        const { code, stdout, stderr } = await bash(`${define}\ngql "$OP"`, { ...cleanEnv(), SWITCHBOARD_URL: gw.url, TOKEN: token, OP: op });
        expect([op, code, stderr]).toEqual([op, 0, '']);
        const answer = JSON.parse(stdout) as { data?: Record<string, { token?: string } | null>; errors?: unknown };
        // The one example whose point is partial data: devices without a login answer errors on their own fields.
        const errors = op.includes('query { devices') ? (answer.errors as Array<{ extensions: { code: string } }>).filter((e) => e.extensions.code !== 'UNAUTHENTICATED') : answer.errors;
        expect([op, errors]).toEqual([op, op.includes('query { devices') ? [] : undefined]);
        // A login's or signup's payload carries the session token (an impersonation's token is Nexudus').
        token = Object.entries(answer.data ?? {}).find(([field, v]) => /^(login|signup)/.test(field) && typeof v?.token === 'string')?.[1]?.token ?? token;
        ran++;
      }
    }
    expect(ran).toBeGreaterThanOrEqual(18);
  }, 120_000);

  test('the event-stream example runs as written: the first answers of a subscription', async () => {
    const block = shellBlocks.find((b) => b.includes('/graphql/stream'))!;
    const login = await gw.gql<{ loginNureva: { token: string } }>('mutation { loginNureva(deviceId: "room-101", account: GENERAL, password: "") { token } }');
    const { code, stdout, stderr } = await bash(block, { ...cleanEnv(), SWITCHBOARD_URL: gw.url, TOKEN: login.data!.loginNureva.token });
    expect([code, stderr]).toEqual([0, '']);
    expect(stdout).toContain('event: next');
    expect(stdout).toMatch(/"deviceConnection":\{"online":true,"at":"[^"]+"\}/);
  });

  test('the quick start runs as written: npm install && npm start serves the demo', async () => {
    // `npm test`, its second line, is what runs this test (and CI runs it).
    const line = shellBlocks[0]!.split('\n')[0]!.replace(/#.*$/, '').trim();
    expect(line).toBe('npm install && npm start');
    const child = spawn('bash', ['-c', line], { cwd: ROOT, env: { ...cleanEnv(), PORT: '0', LOG_LEVEL: 'warn' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`no demo banner within 150 s:\n${out}`)), 150_000);
        const check = () => {
          if (/Authorization: Bearer \S+/.test(out)) {
            clearTimeout(timer);
            done();
          }
        };
        child.stdout!.on('data', check);
        child.once('exit', (code) => fail(new Error(`exited ${code}:\n${out}`)));
      });
      expect(out).toContain('Switchboard (demo mode) is listening.');
      const url = /GraphQL:\s+(http:\/\/\S+)\/graphql/.exec(out)![1]!;
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ devices { id } }"}' });
      expect(((await res.json()) as { data: { devices: unknown[] } }).data.devices).toHaveLength(3);
    } finally {
      // The group may be gone already (a failed start): nothing to stop then.
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already exited
      }
    }
  }, 200_000);
});

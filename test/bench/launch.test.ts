import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, launchedCount, stopAll } from '../../bench/launch.js';

/**
 * The one launcher both bench scripts start their simulators and servers with: what it waits for,
 * how it fails, and that nothing it started outlives a failure.
 */

let dir: string;
const script = (name: string, body: string): string => {
  const path = join(dir, `${name}.mjs`);
  writeFileSync(path, body);
  return path;
};
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Keeps the process running until it is told to stop. */
const LINGER = 'setInterval(() => undefined, 1000);';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchboard-launch-'));
});
afterEach(async () => {
  await stopAll();
  expect(launchedCount()).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('launch', () => {
  it('waits for the first whole JSON line, past other lines and a line that arrives in pieces', async () => {
    const path = script(
      'json-in-pieces',
      `process.stdout.write('starting up\\n{"url":"http://127.0.0.1:1",');
       setTimeout(() => process.stdout.write('"env":{"A":"1"}}\\n'), 150);
       ${LINGER}`,
    );
    const proc = await launch(path, { role: 'driver', cwd: dir, env: {} });
    expect(proc.first).toEqual({ url: 'http://127.0.0.1:1', env: { A: '1' } });
    expect(alive(proc.child.pid!)).toBe(true);
    await proc.stop();
    expect(alive(proc.child.pid!)).toBe(false);
    expect(launchedCount()).toBe(0);
  });

  it('takes the URL from the line `ready` matches', async () => {
    const path = script('ready', `console.log('{"level":30,"msg":"a log line"}'); console.log('  GraphQL:   http://127.0.0.1:4321/graphql'); ${LINGER}`);
    const proc = await launch(path, { role: 'server', cwd: dir, env: {}, ready: /GraphQL:\s+(http:\/\/\S+)\/graphql/ });
    expect(proc.first).toEqual({ url: 'http://127.0.0.1:4321' });
  });

  it('fails with the end of stderr when the process exits before it is ready', async () => {
    const path = script('exits', `process.stderr.write('x'.repeat(20000) + ' the real reason'); process.exit(3);`);
    const failed = launch(path, { role: 'driver', cwd: dir, env: {} });
    await expect(failed).rejects.toThrow(/exited with code 3 before it was ready; its stderr ends: x+ the real reason$/);
    const message = await failed.then(
      () => '',
      (e: Error) => e.message,
    );
    // Only the end of what it said (4 KB), not all of it.
    expect(message.length).toBeLessThan(4096 + path.length + 100);
  });

  it('fails at once on a line that begins with "{" and is not JSON, and stops the process', async () => {
    const path = script('bad-json', `console.log('{not json'); console.log(String(process.pid)); ${LINGER}`);
    const started = Date.now();
    await expect(launch(path, { role: 'driver', cwd: dir, env: {} })).rejects.toThrow(/began a line with "\{" that is not JSON: \{not json/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(launchedCount()).toBe(0);
  });

  it('gives up after startMs and leaves nothing running', async () => {
    const path = script('silent', `console.log('nothing useful'); ${LINGER}`);
    await expect(launch(path, { role: 'driver', cwd: dir, env: {}, startMs: 300 })).rejects.toThrow(/was not ready within 300 ms/);
    expect(launchedCount()).toBe(0);
  });

  it('reads the result of a process that prints it and exits at once, and tells its exit code', async () => {
    const path = script('one-shot', `process.stdout.write(JSON.stringify({ fiftyCallsMs: 3.2 }) + '\\n', () => process.exit(0));`);
    const proc = await launch(path, { role: 'server', cwd: dir, env: {} });
    expect(proc.first).toEqual({ fiftyCallsMs: 3.2 });
    await expect(proc.exited).resolves.toBe(0);
    // Stopping one that is gone sends nothing and resolves at once.
    await proc.stop();
    expect(proc.child.signalCode).toBeNull();
  });

  it('names the signal that ended a process before it was ready', async () => {
    const path = script('killed', `process.kill(process.pid, 'SIGKILL');`);
    await expect(launch(path, { role: 'driver', cwd: dir, env: {} })).rejects.toThrow(/was ended by SIGKILL before it was ready/);
  });

  it('fails, without leaving anything, when the process cannot be started at all', async () => {
    const path = script('never-runs', `console.log('{}');`);
    await expect(launch(path, { role: 'driver', cwd: join(dir, 'no-such-dir'), env: {} })).rejects.toThrow(/could not be started \(spawn .* ENOENT\) before it was ready/);
  });

  it('fails on an endless line instead of buffering it', async () => {
    const path = script('endless', `process.stdout.write('x'.repeat(100_000)); ${LINGER}`);
    await expect(launch(path, { role: 'driver', cwd: dir, env: {} })).rejects.toThrow(/wrote 65536 bytes without ending a line/);
  });

  it('runs a process in its script\'s own folder unless told otherwise (a .env in the repository stays out)', async () => {
    const path = script('cwd', `console.log(JSON.stringify({ cwd: process.cwd() })); ${LINGER}`);
    expect((await launch(path, { role: 'driver', env: {} })).first.cwd).toBe(dir);
  });

  it('sends SIGTERM once however often it is stopped (a second SIGTERM makes the gateway exit at once)', async () => {
    const path = script(
      'graceful',
      `let terms = 0;
       process.on('SIGTERM', () => { if (++terms > 1) process.exit(1); setTimeout(() => process.exit(0), 200); });
       console.log('{}'); ${LINGER}`,
    );
    const proc = await launch(path, { role: 'driver', cwd: dir, env: {} });
    await Promise.all([proc.stop(), proc.stop(), stopAll()]);
    await expect(proc.exited).resolves.toBe(0);
  });

  it('stopAll during a start fails that start and leaves nothing running', async () => {
    const path = script('slow-start', `setTimeout(() => console.log('{}'), 5000); ${LINGER}`);
    const starting = launch(path, { role: 'driver', cwd: dir, env: {} });
    await new Promise((r) => setTimeout(r, 200));
    await stopAll();
    await expect(starting).rejects.toThrow(/was ended by SIGTERM before it was ready/);
  });

  it('a bench script told to stop (SIGTERM, Ctrl-C) stops what it started before it exits', async () => {
    const child = script('child', `console.log(JSON.stringify({ pid: process.pid })); ${LINGER}`);
    const parent = join(dir, 'parent.mts');
    writeFileSync(
      parent,
      `import { launch, stopAllOnSignals } from ${JSON.stringify(new URL('../../bench/launch.ts', import.meta.url).pathname)};
       stopAllOnSignals();
       const proc = await launch(${JSON.stringify(child)}, { role: 'driver', env: {} });
       console.log(JSON.stringify({ child: proc.first.pid }));
       ${LINGER}`,
    );
    const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
    for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
      const proc = await launch(parent, { role: 'server', cwd: dir, env: {}, ownFlags: ['--import', tsx], startMs: 20_000 });
      const started = proc.first.child as number;
      expect(alive(started)).toBe(true);
      proc.child.kill(signal);
      await expect(proc.exited).resolves.toBe(code);
      expect(alive(started)).toBe(false);
    }
  }, 60_000);

  it('kills a process that ignores SIGTERM once killAfterMs has passed', async () => {
    const path = script('stubborn', `process.on('SIGTERM', () => undefined); console.log('{}'); ${LINGER}`);
    const proc = await launch(path, { role: 'driver', cwd: dir, env: {}, killAfterMs: 300 });
    const started = Date.now();
    await proc.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(alive(proc.child.pid!)).toBe(false);
    expect(proc.child.signalCode).toBe('SIGKILL');
  });

  it('passes the given environment and PATH, nothing else of the bench process', async () => {
    process.env.SWITCHBOARD_BENCH_LEAK = 'must not pass';
    try {
      const path = script('env', `console.log(JSON.stringify({ keys: Object.keys(process.env).sort(), given: process.env.GIVEN })); ${LINGER}`);
      const proc = await launch(path, { role: 'driver', cwd: dir, env: { GIVEN: 'yes' } });
      expect(proc.first.given).toBe('yes');
      expect(proc.first.keys).not.toContain('SWITCHBOARD_BENCH_LEAK');
      expect((proc.first.keys as string[]).filter((k) => k !== 'GIVEN' && k !== 'PATH')).toEqual([]);
    } finally {
      delete process.env.SWITCHBOARD_BENCH_LEAK;
    }
  });

  it('stopAll stops every process still running', async () => {
    const path = script('many', `console.log('{}'); ${LINGER}`);
    const procs = await Promise.all([1, 2, 3].map(() => launch(path, { role: 'driver', cwd: dir, env: {} })));
    expect(launchedCount()).toBe(3);
    await stopAll();
    expect(launchedCount()).toBe(0);
    for (const p of procs) expect(alive(p.child.pid!)).toBe(false);
  });
});

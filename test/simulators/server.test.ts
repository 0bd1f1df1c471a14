import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { EchoSimulator } from '../helpers/echo-simulator.js';

const run = promisify(execFile);
const ROOT = resolve(new URL('.', import.meta.url).pathname, '../..');

describe('Simulator request log', () => {
  const sim = new EchoSimulator({ logLimit: 16 }).on('POST', '/echo', (req) => ({ json: { n: (req.json as { n: number }).n } }));

  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  test('keeps the latest logLimit requests, in order, within an eighth more, while counters count them all', async () => {
    const lengths: number[] = [];
    for (let n = 1; n <= 60; n++) {
      const res = await fetch(`${sim.url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n }) });
      expect(await res.json()).toEqual({ n });
      lengths.push(sim.log.length);
    }
    expect(sim.requests).toBe(60);
    // 16 kept, trimmed once 2 (an eighth) more have piled up.
    expect(Math.max(...lengths)).toBe(17);
    expect(Math.min(...lengths.slice(16))).toBe(16);
    const kept = sim.log.map((r) => (r.json as { n: number }).n);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 61 - kept.length + i));
  });
});

describe('Simulator latency', () => {
  test('many requests waiting out their latency at once raise no listener-leak warning', async () => {
    // In a process of its own: Node warns once per process, to the process's own listeners, which
    // jest's sandboxed `process` does not reach.
    const script = `
      import { EchoSimulator } from './test/helpers/echo-simulator.ts';
      const sim = new EchoSimulator({ latencyMs: 50 }).on('GET', '/slow', () => ({ json: {} }));
      await sim.start();
      const statuses = await Promise.all(Array.from({ length: 30 }, () => fetch(sim.url + '/slow').then((r) => r.status)));
      await new Promise((r) => setTimeout(r, 50));
      await sim.stop();
      console.log(JSON.stringify(statuses));
    `;
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
    expect(JSON.parse(stdout)).toEqual(Array(30).fill(200));
    expect(stderr).not.toContain('MaxListenersExceededWarning');
  }, 30_000);
});

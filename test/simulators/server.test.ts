import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { EchoSimulator } from '../helpers/echo-simulator.js';

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

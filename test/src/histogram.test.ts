import { describe, expect, test } from '@jest/globals';
import { Histogram, Registry } from 'prom-client';
import { SeriesHistogram } from '../../src/histogram.js';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** prom-client's Histogram and ours, each in a registry of its own, fed the same observations. */
function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({ name: 'h_seconds', help: 'help', labelNames: ['vendor', 'operation'] as const, buckets: BUCKETS, registers: [theirs] });
  const fast = new SeriesHistogram('h_seconds', 'help', BUCKETS, ours);
  return {
    theirs,
    ours,
    reference,
    fast,
    observe(vendor: string, operation: string, value: number) {
      reference.labels(vendor, operation).observe(value);
      fast.labels({ vendor, operation }).observe(value);
    },
  };
}

describe('SeriesHistogram', () => {
  test('the exposition text and get() equal prom-client Histogram over many series and values, bucket bounds included', async () => {
    const h = pair();
    // Seeded, so a failure repeats: values on, just under and just over every bound, zero, and above the last.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values = [0, ...BUCKETS, ...BUCKETS.map((b) => b * 0.999), ...BUCKETS.map((b) => b * 1.001), 11, 1e6];
    for (let i = 0; i < 2000; i++) values.push(random() * 12);
    const series = [
      ['NUVEQ', 'user.detail'],
      ['NUREVA', 'device.audio'],
      ['PLATFORM', 'client.list'],
      ['NEXUDUS', 'a"quoted\\label'],
    ] as const;
    values.forEach((v, i) => h.observe(series[i % series.length]![0], series[i % series.length]![1], v));
    // A series made but never recorded into shows zeros in both.
    h.reference.zero({ vendor: 'NUVEQ', operation: 'never' });
    h.fast.labels({ vendor: 'NUVEQ', operation: 'never' });

    expect(await h.ours.metrics()).toBe(await h.theirs.metrics());
    expect(await h.ours.getMetricsAsJSON()).toEqual(await h.theirs.getMetricsAsJSON());

    h.theirs.resetMetrics();
    h.ours.resetMetrics();
    h.observe('NUVEQ', 'user.detail', 0.003);
    // After a reset prom-client forgets its series; ours keep theirs at zero: compare the one recorded.
    const line = (text: string) => text.split('\n').filter((l) => l.includes('operation="user.detail"'));
    expect(line(await h.ours.metrics())).toEqual(line(await h.theirs.metrics()));
  });

  test('the same label values give the same series', () => {
    const registry = new Registry();
    const fast = new SeriesHistogram('x_seconds', 'help', BUCKETS, registry);
    expect(fast.labels({ vendor: 'A', operation: 'b' })).toBe(fast.labels({ vendor: 'A', operation: 'b' }));
    expect(fast.labels({ vendor: 'A', operation: 'b' })).not.toBe(fast.labels({ vendor: 'A', operation: 'c' }));
  });
});

import { describe, expect, test } from '@jest/globals';
import { Metrics } from '../../src/metrics.js';

/** The value of one series in the exposition text, or undefined when it is absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Metrics', () => {
  test('tallied counters reach /metrics on every scrape and keep accumulating between scrapes', async () => {
    const metrics = new Metrics();
    const detail = metrics.upstreamOf('NUVEQ', 'user.detail');
    const calls = 'switchboard_upstream_requests_total{vendor="NUVEQ",operation="user.detail",outcome="ok"}';
    const throttled = 'switchboard_upstream_requests_total{vendor="NUVEQ",operation="user.detail",outcome="throttled"}';
    const queries = 'switchboard_graphql_operations_total{type="query",outcome="ok"}';
    const batches = 'switchboard_dataloader_batches_total{vendor="NUVEQ",loader="user"}';

    for (let i = 0; i < 3; i++) detail.record('ok', 0.002);
    detail.record('throttled', 0.001);
    metrics.operation('query', 'ok');
    metrics.batch('NUVEQ', 'user');
    let text = await metrics.registry.metrics();
    expect([value(text, calls), value(text, throttled), value(text, queries), value(text, batches)]).toEqual([3, 1, 1, 1]);
    expect(value(text, 'switchboard_upstream_request_duration_seconds_count{vendor="NUVEQ",operation="user.detail"}')).toBe(4);

    // A second scrape with nothing new reads the same totals, not twice them.
    text = await metrics.registry.metrics();
    expect(value(text, calls)).toBe(3);

    for (let i = 0; i < 2; i++) detail.record('ok', 0.002);
    metrics.operation('query', 'ok');
    text = await metrics.registry.metrics();
    expect([value(text, calls), value(text, throttled), value(text, queries), value(text, batches)]).toEqual([5, 1, 2, 1]);
    // Counter.get() (what a custom exporter reads) sees them too.
    const got = await metrics.upstreamCalls.get();
    expect(got.values.find((v) => v.labels.outcome === 'ok')?.value).toBe(5);
  });
});

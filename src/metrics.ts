import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { VendorName } from './errors.js';
import { SeriesHistogram } from './histogram.js';

/** One vendor operation's call counter and latency histogram, recorded together. */
export interface UpstreamSeries {
  record(outcome: string, seconds?: number): void;
}

/**
 * Counts for one label set of a hot counter, kept in a plain number and added to prom-client's
 * counter when the registry is read: prom-client hashes and validates the labels on every `inc`,
 * even through a `labels()` child, and vendor calls count several times per request.
 */
class Tally {
  pending = 0;
  constructor(readonly labels: Record<string, string>) {}
  inc(): void {
    this.pending++;
  }
}

/** The label names of each tallied counter, in the order its tally takes the values. */
const TALLY_LABELS = { calls: ['vendor', 'operation', 'outcome'], operations: ['type', 'outcome'], batches: ['vendor', 'loader'] } as const;

/** A Counter's `collect` (prom-client calls it, with the counter as `this`, before every read). */
function flushing(tallies: Tally[]) {
  return function collect(this: Counter): void {
    for (const t of tallies) {
      if (t.pending === 0) continue;
      this.inc(t.labels, t.pending);
      t.pending = 0;
    }
  };
}

/**
 * One registry per gateway instance (tests run several in one process). Labels are bounded:
 * vendor, a fixed operation name chosen in code, an outcome, an error code; never user input.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly tallies: Record<keyof typeof TALLY_LABELS, Tally[]> = { calls: [], operations: [], batches: [] };

  readonly upstreamCalls = new Counter({
    name: 'switchboard_upstream_requests_total',
    help: 'Vendor calls by vendor, operation and outcome',
    labelNames: ['vendor', 'operation', 'outcome'] as const,
    registers: [this.registry],
    collect: flushing(this.tallies.calls),
  });
  /** Labels vendor and operation; recorded once per vendor call, so not prom-client's Histogram (see SeriesHistogram). */
  readonly upstreamLatency = new SeriesHistogram(
    'switchboard_upstream_request_duration_seconds',
    'Vendor call latency (one attempt)',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );
  readonly tokenCache = new Counter({
    name: 'switchboard_token_cache_events_total',
    help: 'Vendor token cache hits, misses, refreshes (renewals before expiry) and invalidations',
    labelNames: ['vendor', 'event'] as const,
    registers: [this.registry],
  });
  readonly rateLimitWaits = new Counter({
    name: 'switchboard_rate_limit_waits_total',
    help: 'Vendor calls that waited for the rate limiter, or were refused by it',
    labelNames: ['vendor', 'result'] as const,
    registers: [this.registry],
  });
  readonly rateLimitWaitSeconds = new Histogram({
    name: 'switchboard_rate_limit_wait_seconds',
    help: 'Time vendor calls waited for their rate-limit slot',
    labelNames: ['vendor'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly graphqlOperations = new Counter({
    name: 'switchboard_graphql_operations_total',
    help: 'GraphQL operations by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
    collect: flushing(this.tallies.operations),
  });
  readonly graphqlErrors = new Counter({
    name: 'switchboard_graphql_errors_total',
    help: 'GraphQL errors by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly batches = new Counter({
    name: 'switchboard_dataloader_batches_total',
    help: 'Per-request DataLoader batches dispatched, by vendor and loader',
    labelNames: ['vendor', 'loader'] as const,
    registers: [this.registry],
    collect: flushing(this.tallies.batches),
  });
  readonly loginThrottled = new Counter({
    name: 'switchboard_login_throttled_total',
    help: 'Login attempts refused by the failed-login throttle',
    labelNames: ['vendor', 'scope'] as const,
    registers: [this.registry],
  });
  readonly subscriptions = new Gauge({
    name: 'switchboard_subscriptions_active',
    help: 'Live GraphQL subscriptions, by root field',
    labelNames: ['field'] as const,
    registers: [this.registry],
  });
  readonly upstreamStreams = new Gauge({
    name: 'switchboard_upstream_streams_open',
    help: 'Vendor event streams held open, by vendor and stream (shared by their subscribers)',
    labelNames: ['vendor', 'stream'] as const,
    registers: [this.registry],
  });
  readonly upstreamStreamReconnects = new Counter({
    name: 'switchboard_upstream_stream_reconnects_total',
    help: 'Vendor event streams reopened after a break, by vendor and stream',
    labelNames: ['vendor', 'stream'] as const,
    registers: [this.registry],
  });
  readonly subscriptionEventsDropped = new Counter({
    name: 'switchboard_subscription_events_dropped_total',
    help: 'Events dropped for a subscriber that read slower than they came (oldest first), by root field',
    labelNames: ['field'] as const,
    registers: [this.registry],
  });
  readonly sessionStoreUp = new Gauge({
    name: 'switchboard_session_store_up',
    help: '1 when the session store answers',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
  }

  /** Tallies by kind and label values: looked up with a string key, never a label object. */
  private readonly byKey = new Map<string, Tally>();

  private tally(kind: keyof typeof TALLY_LABELS, a: string, b: string, c?: string): Tally {
    const key = c === undefined ? `${kind}\u0000${a}\u0000${b}` : `${kind}\u0000${a}\u0000${b}\u0000${c}`;
    let found = this.byKey.get(key);
    if (found === undefined) {
      const values = c === undefined ? [a, b] : [a, b, c];
      this.byKey.set(key, (found = new Tally(Object.fromEntries(TALLY_LABELS[kind].map((name, i) => [name, values[i]!])))));
      this.tallies[kind].push(found);
    }
    return found;
  }

  /** One vendor operation's series, for a caller to keep: recording then costs no key building. */
  upstreamOf(vendor: VendorName, operation: string): UpstreamSeries {
    const latency = this.upstreamLatency.labels({ vendor, operation });
    const calls = new Map<string, Tally>();
    return {
      record: (outcome, seconds) => {
        let counter = calls.get(outcome);
        if (!counter) calls.set(outcome, (counter = this.tally('calls', vendor, operation, outcome)));
        counter.inc();
        if (seconds !== undefined) latency.observe(seconds);
      },
    };
  }

  batch(vendor: VendorName, loader: string): void {
    this.pair('batches', vendor, loader).inc();
  }

  operation(type: string, outcome: 'ok' | 'error'): void {
    this.pair('operations', type, outcome).inc();
  }

  /** Two-label tallies by their values, looked up without building a key (once per request). */
  private readonly pairs = { batches: new Map<string, Map<string, Tally>>(), operations: new Map<string, Map<string, Tally>>() };

  private pair(kind: 'batches' | 'operations', a: string, b: string): Tally {
    let byB = this.pairs[kind].get(a);
    if (!byB) this.pairs[kind].set(a, (byB = new Map()));
    let found = byB.get(b);
    if (!found) byB.set(b, (found = this.tally(kind, a, b)));
    return found;
  }
}

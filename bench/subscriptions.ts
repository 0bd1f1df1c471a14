import { readFileSync } from 'node:fs';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { nurevaEnv, startNureva } from '../simulators/nureva/demo.js';

/**
 * Workload S: 1,000 WebSocket subscribers of one device's event stream, all with one login, so
 * one device stream feeds them all. The device (a simulator in this process, so its clock is the
 * subscribers') stamps each event with the time it sent it; the delay of an event is how long it
 * took to reach the last of the 1,000. Memory per subscriber is the gateway process's growth
 * (resident set and V8 heap, from its own /metrics) from no subscriber to all of them.
 */

export interface SubscriberBenchOptions {
  subscribers: number;
  /** Events the device sends per second, and for how long. */
  eventsPerSecond: number;
  seconds: number;
  /** Starts the gateway (pinned, in its own process) with these variables; resolves with its URL and pid. */
  startGateway(env: Record<string, string>): Promise<{ url: string; pid: number; stop(): Promise<void> }>;
}

export interface SubscriberBenchResult {
  subscribers: number;
  deviceStreams: number;
  events: number;
  /** Events every subscriber received. */
  deliveredToAll: number;
  /** Delay from the device sending an event to the last subscriber receiving it, ms. */
  lastSubscriberDelayMs: { p50: number; p99: number; max: number };
  memoryPerSubscriber: { rssKb: number; heapKb: number };
}

const EVENTS = 'subscription($d: ID!) { deviceEvents(deviceId: $d) { data } }';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function heapBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^switchboard_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? 0);
}

/** Median of a few readings a little apart (GC makes a single one noisy). */
async function settled(read: () => Promise<number> | number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push(await read());
    await sleep(200);
  }
  return xs.sort((a, b) => a - b)[2]!;
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

export async function runSubscriberBench(options: SubscriberBenchOptions): Promise<SubscriberBenchResult> {
  const device = await startNureva({ logLimit: 1000 });
  const gateway = await options.startGateway({
    ...nurevaEnv([{ id: 'room-1', sim: device }]),
    // One operator's choice for this test: every subscriber comes from one address and one session.
    SUBSCRIPTIONS_PER_SESSION: String(options.subscribers * 2),
    SUBSCRIPTION_CONNECTIONS_PER_CLIENT: String(options.subscribers * 2),
  });
  const clients: Client[] = [];
  try {
    const login = await fetch(`${gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'mutation { loginNureva(deviceId: "room-1", account: GENERAL, password: "") { token } }' }) });
    const token = ((await login.json()) as { data: { loginNureva: { token: string } } }).data.loginNureva.token;
    const before = { rss: await settled(() => rssBytes(gateway.pid)), heap: await settled(() => heapBytes(gateway.url)) };
    /** Per event (by sequence number): how many subscribers got it, and when the last did. */
    const arrivals = new Map<number, { count: number; last: number; sentAt: number }>();
    const live = new Set<number>();
    for (let i = 0; i < options.subscribers; i++) {
      const client = createClient({ url: `${gateway.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
      clients.push(client);
      client.subscribe<{ deviceEvents: { data: string } }>({ query: EVENTS, variables: { d: 'room-1' } }, {
        next: (r) => {
          const at = now();
          const body = JSON.parse(r.data!.deviceEvents.data) as { seq: number; sentAt: number };
          if (body.seq < 0) return void live.add(i);
          const a = arrivals.get(body.seq) ?? { count: 0, last: 0, sentAt: body.sentAt };
          a.count++;
          a.last = Math.max(a.last, at);
          arrivals.set(body.seq, a);
        },
        error: () => undefined,
        complete: () => undefined,
      });
      // Open the connections a few at a time, as clients arrive.
      if (i % 50 === 49) await sleep(20);
    }
    // Every subscriber is live once it received a warm-up event.
    for (let tries = 0; live.size < options.subscribers && tries < 300; tries++) {
      device.streams.emit('ledStateUpdated', () => ({ seq: -1 }));
      await sleep(200);
    }
    const deviceStreams = device.streams.open('events');
    const after = { rss: await settled(() => rssBytes(gateway.pid)), heap: await settled(() => heapBytes(gateway.url)) };
    const total = options.eventsPerSecond * options.seconds;
    for (let seq = 0; seq < total; seq++) {
      device.streams.emit('ledStateUpdated', () => ({ seq, sentAt: now() }));
      await sleep(1000 / options.eventsPerSecond);
    }
    await sleep(2000);
    const complete = [...arrivals.values()].filter((a) => a.count === options.subscribers);
    const delays = complete.map((a) => a.last - a.sentAt);
    return {
      subscribers: options.subscribers,
      deviceStreams,
      events: total,
      deliveredToAll: complete.length,
      lastSubscriberDelayMs: { p50: round(percentile(delays, 50)), p99: round(percentile(delays, 99)), max: round(Math.max(...delays)) },
      memoryPerSubscriber: { rssKb: round((after.rss - before.rss) / options.subscribers / 1024), heapKb: round((after.heap - before.heap) / options.subscribers / 1024) },
    };
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    await gateway.stop();
    await device.stop();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

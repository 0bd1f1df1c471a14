import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import WebSocket from 'ws';

/** The two subscription transports, as their own client libraries speak them. */
export type Transport = 'ws' | 'sse';
export const TRANSPORTS: Transport[] = ['ws', 'sse'];

export interface Result {
  data?: Record<string, any> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** One live subscription: what it received so far, and ways to wait for more. */
export class LiveSubscription {
  readonly results: Result[] = [];
  /** Set when it completed (or failed at the transport level). */
  ended = false;
  transportError?: unknown;
  private waiters: Array<() => void> = [];
  private dispose: () => void = () => undefined;

  constructor(private readonly owner: { dispose(): void }) {}

  attach(dispose: () => void): void {
    this.dispose = dispose;
  }

  push(result: Result): void {
    this.results.push(result);
    this.wake();
  }

  end(error?: unknown): void {
    this.ended = true;
    this.transportError = error;
    this.wake();
  }

  /** The first result (from `from` on) that satisfies `test`, within `timeoutMs`. */
  async waitFor(test: (r: Result) => boolean, timeoutMs = 10_000, from = 0): Promise<Result> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.results.slice(from).find(test);
      if (found) return found;
      if (this.ended) throw new Error(`the subscription ended without the awaited result: ${JSON.stringify(this.results.slice(-3))} ${String(this.transportError ?? '')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no awaited result within ${timeoutMs} ms; got ${this.results.length}: ${JSON.stringify(this.results.slice(-3))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The first result with data, from `from` on. */
  nextData(timeoutMs?: number, from = this.results.length): Promise<Result> {
    return this.waitFor((r) => r.data != null, timeoutMs, from);
  }

  /** The error code of the first error result, once one came. */
  async errorCode(timeoutMs?: number): Promise<unknown> {
    const r = await this.waitFor((x) => (x.errors?.length ?? 0) > 0, timeoutMs);
    return r.errors![0]!.extensions?.code;
  }

  async untilEnded(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`the subscription did not end within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Unsubscribes (and closes the connection it was the only one on). */
  close(): void {
    this.dispose();
    this.owner.dispose();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** A graphql-ws client on `url` (http:// turned into ws://), with the session token in connectionParams. */
export function wsClient(url: string, token?: string, extra: { origin?: string } = {}): WsClient {
  return createWsClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, extra.origin ? { origin: extra.origin } : {});
      }
    },
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
    lazyCloseTimeout: 0,
  });
}

/** A graphql-sse client (distinct connections) on `url`/graphql/stream, with the token in Authorization. */
export function sseClient(url: string, token?: string): SseClient {
  return createSseClient({
    url: `${url}/graphql/stream`,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
  });
}

/** Subscribes over `transport`; the subscription collects every result. */
export function subscribe(transport: Transport, url: string, token: string | undefined, query: string, variables?: Record<string, unknown>): LiveSubscription {
  const client: WsClient | SseClient = transport === 'ws' ? wsClient(url, token) : sseClient(url, token);
  const live = new LiveSubscription(client);
  const dispose = client.subscribe<Record<string, any>>(
    { query, variables },
    {
      next: (r) => live.push(r as Result),
      error: (e) => live.end(e),
      complete: () => live.end(),
    },
  );
  live.attach(dispose);
  return live;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds, or fails after `ms`; resolves with how long it took. */
export async function within(ms: number, check: () => boolean, what: string): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(25);
  }
  return Date.now() - started;
}

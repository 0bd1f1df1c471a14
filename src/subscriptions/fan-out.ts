import { Channel, type ChannelOptions } from './channel.js';

type Select<T> = (value: T) => boolean;

/** An upstream stream, as the fan-out sees it: something that can be closed. */
export interface Source {
  close(): void;
}

/** What an upstream may tell its subscribers. */
export interface Emit<T> {
  /** A value for every subscriber. */
  value(value: T): void;
  /** The stream ended for good (its subscribers' subscriptions end, with this error if any). */
  end(error?: unknown): void;
}

/**
 * One upstream stream per key, shared by every subscriber of that key: opened on the first
 * subscriber, closed as soon as the last one leaves. A new subscriber gets the latest value at once
 * when `replayLast` is set (a state such as "online", not an event).
 */
interface Shared<T> {
  source?: Source;
  subscribers: Map<Channel<T>, Select<T> | undefined>;
  last?: { value: T };
  /** Set while the stream outlives its last subscriber (lingerMs). */
  linger?: NodeJS.Timeout;
}

export class FanOut<K, T> {
  private readonly streams = new Map<K, Shared<T>>();

  constructor(
    private readonly open: (key: K, emit: Emit<T>) => Source,
    private readonly options: {
      replayLast?: boolean;
      onCountChange?: (open: number) => void;
      /**
       * How long a stream stays open after its last subscriber left, for one who comes right back
       * (a page reload), so that subscribing and leaving in a loop does not spend the upstream's
       * budget of stream requests. Short: the upstream is still closed within a couple of seconds.
       */
      lingerMs?: number;
    } = {},
  ) {}

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  subscribers(key: K): number {
    return this.streams.get(key)?.subscribers.size ?? 0;
  }

  /** Whether `key`'s upstream is open (with subscribers, or lingering after the last). */
  isOpen(key: K): boolean {
    return this.streams.has(key);
  }

  /** A subscriber of `key`'s stream; `select` picks the values it wants (all by default). */
  subscribe(key: K, channel: ChannelOptions & { select?: Select<T> }): Channel<T> {
    let shared = this.streams.get(key);
    const subscriber = new Channel<T>({
      ...channel,
      onClose: () => {
        channel.onClose?.();
        this.leave(key, subscriber);
      },
    });
    if (!shared) {
      shared = { subscribers: new Map() };
      this.streams.set(key, shared);
      shared.subscribers.set(subscriber, channel.select);
      this.options.onCountChange?.(this.streams.size);
      const entry = shared;
      entry.source = this.open(key, {
        value: (value) => {
          if (this.options.replayLast) entry.last = { value };
          for (const [s, select] of entry.subscribers) if (!select || select(value)) s.push(value);
        },
        end: (error) => this.endAll(key, entry, error),
      });
      return subscriber;
    }
    if (shared.linger) clearTimeout(shared.linger);
    shared.linger = undefined;
    shared.subscribers.set(subscriber, channel.select);
    if (shared.last && (!channel.select || channel.select(shared.last.value))) subscriber.push(shared.last.value);
    return subscriber;
  }

  private leave(key: K, subscriber: Channel<T>): void {
    const shared = this.streams.get(key);
    if (!shared?.subscribers.delete(subscriber) || shared.subscribers.size > 0) return;
    const lingerMs = this.options.lingerMs ?? 0;
    if (lingerMs <= 0) return this.shut(key, shared);
    shared.linger = setTimeout(() => this.shut(key, shared), lingerMs);
    shared.linger.unref();
  }

  /** Closes the upstream of `key` and forgets it (once). */
  private shut(key: K, shared: Shared<T>): void {
    if (shared.linger) clearTimeout(shared.linger);
    shared.linger = undefined;
    if (this.streams.get(key) === shared) {
      this.streams.delete(key);
      this.options.onCountChange?.(this.streams.size);
    }
    const source = shared.source;
    shared.source = undefined;
    source?.close();
  }

  /** The upstream ended for good: it is closed (what it holds released) and its subscribers end. */
  private endAll(key: K, shared: Shared<T>, error?: unknown): void {
    this.shut(key, shared);
    for (const s of [...shared.subscribers.keys()]) s.end(error);
  }

  /** Ends every stream (the gateway stops). */
  closeAll(error?: unknown): void {
    for (const [key, shared] of [...this.streams]) this.endAll(key, shared, error);
  }
}

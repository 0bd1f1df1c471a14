import { ForbiddenError, NotFoundError, RateLimitedError, UnauthenticatedError, UpstreamError, UpstreamUnavailableError, type SwitchboardError } from '../../src/errors.js';
import { ReconnectingStream } from '../../src/upstream/reconnecting-stream.js';
import type { SseEvent, StreamListener } from '../../src/upstream/sse.js';
import type { VendorDeps } from '../../src/vendors/module.js';
import { FanOut, type Emit, type Source } from '../../src/subscriptions/fan-out.js';
import type { Channel } from '../../src/subscriptions/channel.js';
import { SlidingLog } from '../../src/limits/sliding-log.js';
import { decodeData, decodeEvent, type ConnectionState, type DataEvent, type DeviceEventModel } from './live.js';

/**
 * The devices' server-sent event streams, shared: one upstream stream per (device, stream,
 * credentials), opened for the first subscriber and closed when the last leaves, reopened with
 * jittered backoff when it breaks, always within the device's 60 stream requests a minute. The
 * heartbeat needs no login, so every subscriber of a device shares one.
 */

const VENDOR = 'NUREVA';
export const STREAM_PATHS = { heartbeat: '/api/v1/heartbeat', data: '/api/v1/data', events: '/api/v1/events' } as const;
export type StreamName = keyof typeof STREAM_PATHS;

/** The credentials a stream is opened with: a token-cache key and the login that fills it. */
export interface StreamLogin {
  tokenKey: string;
  token(): Promise<string>;
  invalidate(token: string): void;
}

export interface StreamLimits {
  /** Upstream streams one device may have open at once (NUREVA_STREAMS_PER_DEVICE). */
  perDevice: number;
  /** Events kept for a slow subscriber of the event stream (SUBSCRIPTION_EVENT_BUFFER). */
  eventBuffer: number;
  /** `online: false` this long after the last heartbeat (the device sends one every 5 s). */
  heartbeatTimeoutMs: number;
  /** Stream requests a device allows a minute (its documented limit). */
  requestsPerMinute: number;
  /** A data stream that says nothing for this long is reopened (it reports "at a regular interval"). */
  dataIdleMs: number;
  /** An event stream quiet for this long is reopened (a device that lost power leaves a half-open connection). */
  eventsIdleMs: number;
  /** Of the stream requests a minute, at most this many open a stream for a new subscriber; the rest stay for reconnects. */
  opensPerMinute: number;
  /** How long a stream outlives its last subscriber (one who comes straight back reuses it). */
  lingerMs: number;
  /** `deviceConnection`'s first state comes within this long, even from a device that does not answer. */
  firstStateMs: number;
}

/** How the streams reach a device: the Nureva client's side. */
export interface StreamOpener {
  openStream(deviceId: string, name: StreamName, token: string | undefined, listener: StreamListener, idleMs: number): { close(): void };
}

type DataSelect = (e: DataEvent) => boolean;

export class DeviceStreams {
  private readonly heartbeat: FanOut<string, ConnectionState>;
  private readonly data: FanOut<string, DataEvent>;
  private readonly events: FanOut<string, DeviceEventModel>;
  /** Open upstream streams per device, across the three kinds. */
  private readonly open = new Map<string, number>();
  /** The login each shared stream was opened with, by fan-out key. */
  private readonly logins = new Map<string, StreamLogin>();
  /** When streams were opened for new subscribers, per device (the last minute). */
  private readonly opens = new Map<string, SlidingLog>();
  /** Per device: reopen its data and event streams (its heartbeat went silent). */
  private readonly restarts = new Map<string, Set<() => void>>();

  constructor(
    private readonly opener: StreamOpener,
    private readonly deps: VendorDeps,
    private readonly limits: StreamLimits,
  ) {
    const gauge = (stream: StreamName) => (n: number) => deps.metrics.upstreamStreams.set({ vendor: VENDOR, stream }, n);
    const lingerMs = limits.lingerMs;
    this.heartbeat = new FanOut((deviceId, emit) => this.watchHeartbeat(deviceId, emit), { replayLast: true, lingerMs, onCountChange: gauge('heartbeat') });
    this.data = new FanOut((key, emit) => this.relay('data', key, emit, (id, at, e) => decodeData(id, at, e)), { lingerMs, onCountChange: gauge('data') });
    this.events = new FanOut((key, emit) => this.relay('events', key, emit, (id, at, e) => decodeEvent(id, at, e)), { lingerMs, onCountChange: gauge('events') });
  }

  /** `deviceConnection`: the state now, then offline within the heartbeat timeout, online again when it resumes. */
  connection(deviceId: string): Channel<ConnectionState> {
    if (!this.heartbeat.isOpen(deviceId)) this.reserve(deviceId);
    return this.heartbeat.subscribe(deviceId, { mode: 'latest' });
  }

  /** The data stream (sound location, metrics) with these credentials; `select` picks a subscriber's part. */
  dataEvents(deviceId: string, login: StreamLogin, select: DataSelect): Channel<DataEvent> {
    const key = this.keyOf('data', deviceId, login, this.data);
    return this.data.subscribe(key, { mode: 'latest', select });
  }

  /** The event stream (hardware and room changes) with these credentials; a slow subscriber loses the oldest. */
  deviceEvents(deviceId: string, login: StreamLogin, onDrop: () => void): Channel<DeviceEventModel> {
    const key = this.keyOf('events', deviceId, login, this.events);
    return this.events.subscribe(key, { mode: 'queue', max: this.limits.eventBuffer, onDrop });
  }

  /** Upstream streams open now, all devices and kinds. */
  get size(): number {
    return this.heartbeat.size + this.data.size + this.events.size;
  }

  close(): void {
    const closed = new UpstreamUnavailableError(VENDOR, 'The gateway is stopping');
    this.heartbeat.closeAll(closed);
    this.data.closeAll(closed);
    this.events.closeAll(closed);
  }

  /** The fan-out key of a shared stream; a new stream counts against the device's cap first. */
  private keyOf(name: StreamName, deviceId: string, login: StreamLogin, fanOut: { isOpen(key: string): boolean }): string {
    const key = `${deviceId}\u0000${name}\u0000${login.tokenKey}`;
    if (!fanOut.isOpen(key)) {
      this.reserve(deviceId);
      this.logins.set(key, login);
    }
    return key;
  }

  /**
   * Counts a new upstream stream against the device's cap, and against the share of its stream
   * requests that new subscribers may spend (subscribing and leaving in a loop must not starve the
   * reconnects of the streams others watch), or refuses the subscription.
   */
  private reserve(deviceId: string): void {
    const open = this.open.get(deviceId) ?? 0;
    if (open >= this.limits.perDevice) {
      throw new RateLimitedError(5, `This device already serves ${this.limits.perDevice} streams (NUREVA_STREAMS_PER_DEVICE); retry shortly`, { vendor: VENDOR });
    }
    const now = this.deps.clock.now();
    const opens = this.opens.get(deviceId) ?? new SlidingLog();
    opens.prune(now - 60_000);
    if (opens.size >= this.limits.opensPerMinute) {
      throw new RateLimitedError(Math.max(1, ((opens.oldest() ?? now) + 60_000 - now) / 1000), 'New streams to this device are opening too fast; retry shortly', { vendor: VENDOR });
    }
    opens.add(now);
    this.opens.set(deviceId, opens);
    this.open.set(deviceId, open + 1);
  }

  private release(deviceId: string): void {
    const open = (this.open.get(deviceId) ?? 1) - 1;
    if (open > 0) this.open.set(deviceId, open);
    else this.open.delete(deviceId);
    const opens = this.opens.get(deviceId);
    if (opens && open <= 0) {
      opens.prune(this.deps.clock.now() - 60_000);
      if (opens.size === 0) this.opens.delete(deviceId);
    }
  }

  /**
   * The heartbeat stream as a state. The device answering the stream request is online at once
   * (its first heartbeat may be 5 s away); heartbeats keep it so; silence past the timeout, or a
   * device that cannot be reached, is offline; a heartbeat after that is online again.
   */
  private watchHeartbeat(deviceId: string, emit: Emit<ConnectionState>): Source {
    let online: boolean | undefined;
    let silence: NodeJS.Timeout | undefined;
    const report = (state: boolean) => {
      if (state === online) return;
      online = state;
      emit.value({ deviceId, online: state, at: this.deps.clock.now() });
    };
    const alive = () => {
      if (silence) return silence.refresh();
      silence = setTimeout(() => {
        silence = undefined;
        report(false);
        // Quiet without closing: the connections to it are as good as gone; open new ones (within budget).
        upstream.restart();
        for (const restart of this.restarts.get(deviceId) ?? []) restart();
      }, this.limits.heartbeatTimeoutMs);
    };
    // A device that neither answers nor refuses still gets a first state on time.
    const first = setTimeout(() => online === undefined && report(false), this.limits.firstStateMs);
    const upstream = this.reconnecting('heartbeat', deviceId, undefined, {
      onOpen: () => {
        if (online === undefined) report(true);
        alive();
      },
      onEvent: () => {
        report(true);
        alive();
      },
      // Never reached yet: offline now. A break after heartbeats is judged by the silence timer,
      // so a connection that drops and comes straight back does not flap.
      onDown: () => {
        if (online === undefined) report(false);
      },
      onEnd: (error) => emit.end(error),
    });
    return this.releasing(deviceId, () => {
      clearTimeout(first);
      if (silence) clearTimeout(silence);
      upstream.close();
    });
  }

  /** A Source whose close runs once, and gives the device's stream back. */
  private releasing(deviceId: string, close: () => void): Source {
    let released = false;
    return {
      close: () => {
        if (released) return;
        released = true;
        close();
        this.release(deviceId);
      },
    };
  }

  /** A data or event stream, each event decoded once and handed to every subscriber of the key. */
  private relay<T>(name: 'data' | 'events', key: string, emit: Emit<T>, decode: (deviceId: string, at: number, e: SseEvent) => T | undefined): Source {
    const deviceId = key.slice(0, key.indexOf('\u0000'));
    const upstream = this.reconnecting(name, deviceId, this.logins.get(key), {
      onEvent: (event) => {
        const value = decode(deviceId, this.deps.clock.now(), event);
        if (value !== undefined) emit.value(value);
      },
      onEnd: (error) => emit.end(error),
    });
    const restart = () => upstream.restart();
    const restarts = this.restarts.get(deviceId) ?? new Set();
    restarts.add(restart);
    this.restarts.set(deviceId, restarts);
    return this.releasing(deviceId, () => {
      upstream.close();
      this.logins.delete(key);
      restarts.delete(restart);
      if (restarts.size === 0 && this.restarts.get(deviceId) === restarts) this.restarts.delete(deviceId);
    });
  }

  private reconnecting(name: StreamName, deviceId: string, login: StreamLogin | undefined, on: { onOpen?(): void; onEvent(e: SseEvent): void; onDown?(): void; onEnd(error: SwitchboardError): void }): ReconnectingStream {
    const { deps, limits } = this;
    return new ReconnectingStream({
      budget: (signal) => deps.limiter.acquire(VENDOR, `nureva:${deviceId}:streams`, [{ limit: limits.requestsPerMinute, windowMs: 60_000 }], 60_000, signal),
      token: login && { get: () => login.token(), invalidate: (t) => login.invalidate(t) },
      open: (token, listener) => this.opener.openStream(deviceId, name, token, listener, name === 'data' ? limits.dataIdleMs : name === 'events' ? limits.eventsIdleMs : 0),
      refusal: (status) => refusal(status),
      onRetry: () => deps.metrics.upstreamStreamReconnects.inc({ vendor: VENDOR, stream: name }),
      ...on,
    });
  }
}

/** What a device's answer to a stream request means for its subscribers; undefined: try again later. */
function refusal(status: number): SwitchboardError | undefined {
  if (status === 401) return new UnauthenticatedError('The device no longer accepts this login; log in again', { vendor: VENDOR });
  if (status === 403) return new ForbiddenError('This device account may not read this stream', { vendor: VENDOR });
  if (status === 404) return new NotFoundError('The device does not offer this stream', { vendor: VENDOR });
  if (status === 400) return new UpstreamError(VENDOR, 'The device refused the stream request');
  return undefined;
}

import type { SimReply, SimStream } from '../server.js';
import type { Clock } from '../../src/clock.js';
import { Room } from './room.js';

/**
 * A device's server-sent event streams, as the vendor facts describe them: the heartbeat (every
 * 5 s while connected), the data stream (sound location at a regular interval, metrics less
 * often, `events=` filtering by type) and the event stream (updates of the hardware and room
 * endpoints, and a few labels). What the documents leave open is an option: whether the first
 * heartbeat comes at once, and whether data and event streams name their events.
 */
export interface StreamOptions {
  /** The heartbeat's rhythm (documented: 5 s). */
  heartbeatMs?: number;
  /** Assumed: the first heartbeat comes when the stream opens (off: after one period, the plainest reading). */
  heartbeatOnConnect?: boolean;
  /** Sound location every this often (the documents say "at a regular interval"). */
  soundLocationMs?: number;
  /** Device metrics every this often. */
  metricsMs?: number;
  /** Assumed: data events are named `soundLocation` / `deviceMetrics` ('named'); 'unnamed' sends bare `data:` events. */
  dataEventNames?: 'named' | 'unnamed';
  /** Assumed: event-stream events are named by their path or label ('named'); 'unnamed' sends bare `data:` events. */
  eventNames?: 'named' | 'unnamed';
}

type Kind = 'heartbeat' | 'data' | 'events';

interface Listener {
  kind: Kind;
  out: SimStream;
  /** For the data stream: the event types asked for (`events=`), or all. */
  types?: Set<string>;
  /** The account the stream was opened with (what the events carry depends on it). */
  account?: string;
  timers: NodeJS.Timeout[];
}

export class DeviceStreamsSim {
  private readonly listeners = new Set<Listener>();
  private readonly room: Room;
  /** Connections stay open but nothing is sent (a device that froze). */
  quiet = false;
  /** The last bodies sent, newest last, by event type (tests compare what subscribers got). */
  readonly sent = new Map<string, unknown[]>();
  /** When the last heartbeat went out (epoch ms on the simulator's clock). */
  lastHeartbeatAt = 0;

  constructor(
    private readonly options: StreamOptions,
    model: 'hdl310' | 'hdl410',
    private readonly clock: Clock,
  ) {
    this.room = new Room(model);
  }

  /** Open streams, of one kind or all. */
  open(kind?: Kind): number {
    let n = 0;
    for (const l of this.listeners) if (!kind || l.kind === kind) n++;
    return n;
  }

  heartbeat(): SimReply {
    const every = this.options.heartbeatMs ?? 5000;
    return this.serve('heartbeat', undefined, undefined, (l) => {
      const beat = () => {
        if (this.send(l, 'heartbeat', '.', `retry: ${every}\n`)) this.lastHeartbeatAt = this.clock.now();
      };
      if (this.options.heartbeatOnConnect) beat();
      l.timers.push(setInterval(beat, every));
    });
  }

  data(account: string, types: string | null): SimReply {
    const wanted = types ? new Set(types.split(',').map((t) => t.trim()).filter(Boolean)) : undefined;
    const named = (this.options.dataEventNames ?? 'named') === 'named';
    return this.serve('data', account, wanted, (l) => {
      const emit = (type: string, body: unknown) => {
        if ((!l.types || l.types.has(type)) && this.send(l, named ? type : undefined, JSON.stringify(body))) this.remember(type, body);
      };
      l.timers.push(setInterval(() => emit('soundLocation', this.room.soundLocation(this.clock.now())), this.options.soundLocationMs ?? 1000));
      l.timers.push(setInterval(() => emit('deviceMetrics', this.room.metrics()), this.options.metricsMs ?? 5000));
    });
  }

  events(account: string): SimReply {
    return this.serve('events', account, undefined, () => undefined);
  }

  /** An update on the event stream: `name` is an endpoint path or a label; `body` per account (it may depend on it). */
  emit(name: string, body: (account: string) => unknown): void {
    const named = (this.options.eventNames ?? 'named') === 'named';
    for (const l of this.listeners) {
      if (l.kind !== 'events') continue;
      const value = body(l.account ?? '');
      if (this.send(l, named ? name : undefined, JSON.stringify(value))) this.remember(name, value);
    }
  }

  private remember(type: string, body: unknown): void {
    const list = this.sent.get(type) ?? [];
    list.push(body);
    if (list.length > 60) list.splice(0, list.length - 30);
    this.sent.set(type, list);
  }

  /** Cuts every open stream (the device rebooted, or a network blip). */
  drop(kind?: Kind): void {
    for (const l of [...this.listeners]) if (!kind || l.kind === kind) l.out.destroy();
  }

  close(): void {
    for (const l of [...this.listeners]) this.forget(l);
  }

  private serve(kind: Kind, account: string | undefined, types: Set<string> | undefined, start: (l: Listener) => void): SimReply {
    return {
      status: 200,
      stream: (out) => {
        const l: Listener = { kind, out, account, types, timers: [] };
        this.listeners.add(l);
        out.onClose(() => this.forget(l));
        // A comment first, as servers do to get the headers through proxies.
        out.write(':\n\n');
        start(l);
        for (const t of l.timers) t.unref();
      },
    };
  }

  /** Writes one event; false when nothing was sent (quiet, or the stream is gone). */
  private send(l: Listener, event: string | undefined, data: string, extra = ''): boolean {
    if (this.quiet || l.out.closed) return false;
    l.out.write(`${event ? `event: ${event}\n` : ''}data: ${data}\n${extra}\n`);
    return true;
  }

  private forget(l: Listener): void {
    for (const t of l.timers) clearInterval(t);
    this.listeners.delete(l);
  }
}

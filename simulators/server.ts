import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, type Clock } from '../src/clock.js';

/**
 * The base of every vendor simulator: a real HTTP(S) server on loopback, so the gateway's own
 * client, TLS, timeouts and parsing are what tests exercise. Vendors add routes; tests read the
 * request log and inject faults.
 */

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body when the request said application/json and it parsed. */
  json?: unknown;
  /** Parsed form body when the request said application/x-www-form-urlencoded. */
  form?: URLSearchParams;
  params: Record<string, string>;
  /** Arrival time (epoch ms). */
  time: number;
}

export interface SimReply {
  status?: number;
  /** Reason phrase, for a vendor whose own differs from Node's standard one. */
  statusText?: string;
  headers?: Record<string, string>;
  json?: unknown;
  text?: string;
  /** A long-lived answer (server-sent events): the headers go at once, then the handler writes. */
  stream?: (out: SimStream) => void;
}

/** The open side of a streamed answer. */
export interface SimStream {
  /** False once the client stopped reading (the chunk is still queued). */
  write(text: string): boolean;
  /** Ends the answer as a server closing the stream would. */
  end(): void;
  /** Cuts the connection without ending the answer (a device that lost the network). */
  destroy(): void;
  onClose(listener: () => void): void;
  readonly closed: boolean;
}

export type SimHandler = (req: SimRequest) => SimReply | Promise<SimReply>;

export interface Fault {
  /** Which requests it applies to (default: all). */
  match?: (req: SimRequest) => boolean;
  /** How many matching requests it applies to (default: until cleared). */
  times?: number;
  latencyMs?: number;
  /** A canned answer instead of the real one: a status, a malformed body, anything. */
  reply?: SimReply;
  /** The vendor's own "slow down" answer. */
  throttle?: boolean;
  /** Close the connection without answering. */
  drop?: boolean;
}

export interface SimulatorOptions {
  tls?: { key: string; cert: string };
  /** Latency added to every answer. */
  latencyMs?: number;
  /** Requests kept in the log, give or take an eighth (counters keep counting). */
  logLimit?: number;
  /** The simulator's time (a test moves it with the gateway's); the system's by default. */
  clock?: Clock;
}

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: SimHandler;
}

export abstract class Simulator {
  /** Requests received, oldest first: the last logLimit of them, and up to an eighth more. */
  readonly log: SimRequest[] = [];
  requests = 0;
  connections = 0;
  inFlight = 0;
  maxInFlight = 0;
  latencyMs: number;
  url = '';
  private readonly routes: Route[] = [];
  private faults: Fault[] = [];
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  /** Aborted by stop(): latency still pending then must not keep the process (a test run) alive. */
  private stopping = new AbortController();

  protected constructor(
    readonly name: string,
    private readonly options: SimulatorOptions = {},
  ) {
    this.latencyMs = options.latencyMs ?? 0;
  }

  protected route(method: string, path: string, handler: SimHandler): void {
    const names: string[] = [];
    const source = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_m, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler });
  }

  /** The vendor's answer when it throttles (each vendor says it differently). */
  protected throttleReply(_req: SimRequest): SimReply {
    return { status: 429, headers: { 'retry-after': '1' }, json: { error: 'Too many requests' } };
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Requests in the log that match. */
  count(predicate: (r: SimRequest) => boolean = () => true): number {
    return this.log.filter(predicate).length;
  }

  resetLog(): void {
    this.log.length = 0;
    this.requests = 0;
    this.maxInFlight = this.inFlight;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.stopping = new AbortController();
    // One listener per request waiting out its latency, each removed when its wait ends: as many as
    // requests in flight, which Node's default warning (more than 10) would call a leak.
    setMaxListeners(0, this.stopping.signal);
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const server = this.options.tls ? createHttpsServer({ key: this.options.tls.key, cert: this.options.tls.cert }, handler) : createHttpServer(handler);
    server.keepAliveTimeout = 60_000;
    server.on(this.options.tls ? 'secureConnection' : 'connection', () => this.connections++);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const { port: actual } = server.address() as AddressInfo;
    this.url = `${this.options.tls ? 'https' : 'http'}://${host}:${actual}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.stopping.abort();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Counters for the control endpoint (`GET /__sim/stats`); vendors add their own. */
  stats(): Record<string, unknown> {
    return { name: this.name, requests: this.requests, connections: this.connections, inFlight: this.inFlight, maxInFlight: this.maxInFlight };
  }

  /**
   * The control endpoint, for a simulator running in another process (benchmarks): not part of
   * any vendor's API, never logged, never faulted.
   */
  private control(req: IncomingMessage, res: ServerResponse): boolean {
    if (!req.url?.startsWith('/__sim/')) return false;
    if (req.url === '/__sim/stats') this.send(res, { json: this.stats() });
    else if (req.url === '/__sim/reset' && req.method === 'POST') {
      this.resetLog();
      this.send(res, { json: { ok: true } });
    } else this.send(res, { status: 404, json: { error: 'unknown control path' } });
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.control(req, res)) return;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const rawBody = await new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
        req.once('error', reject);
      });
      const target = req.url ?? '/';
      const q = target.indexOf('?');
      const contentType = String(req.headers['content-type'] ?? '');
      const simReq: SimRequest = {
        method: req.method ?? 'GET',
        path: q < 0 ? target : target.slice(0, q),
        query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)),
        headers: req.headers,
        rawBody,
        params: {},
        time: (this.options.clock ?? systemClock).now(),
      };
      if (contentType.includes('application/json')) {
        try {
          simReq.json = JSON.parse(rawBody);
        } catch {
          simReq.json = undefined;
        }
      } else if (contentType.includes('application/x-www-form-urlencoded')) {
        simReq.form = new URLSearchParams(rawBody);
      }
      this.requests++;
      this.log.push(simReq);
      // Trimmed in chunks of an eighth: dropping the oldest entry on every request moved the whole
      // array each time, which cost ~7 µs a request at 5,000 entries and ~40 µs at 50,000.
      const limit = this.options.logLimit ?? 50_000;
      if (this.log.length >= limit + Math.max(1, limit >> 3)) this.log.splice(0, this.log.length - limit);

      const fault = this.takeFault(simReq);
      const latency = this.latencyMs + (fault?.latencyMs ?? 0);
      if (latency > 0) await sleep(latency, undefined, { signal: this.stopping.signal });
      if (fault?.drop) {
        req.socket.destroy();
        return;
      }
      let reply: SimReply;
      if (fault?.throttle) reply = this.throttleReply(simReq);
      else if (fault?.reply) reply = fault.reply;
      else reply = await this.dispatch(simReq);
      this.send(res, reply);
    } catch (error) {
      if (this.stopping.signal.aborted) return;
      this.send(res, this.errorReply(500, `simulator failure: ${(error as Error).message}`));
    } finally {
      this.inFlight--;
    }
  }

  private takeFault(req: SimRequest): Fault | undefined {
    const i = this.faults.findIndex((f) => !f.match || f.match(req));
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (f.times !== undefined && --f.times <= 0) this.faults.splice(i, 1);
    return f;
  }

  private async dispatch(req: SimRequest): Promise<SimReply> {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(req.path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== req.method) continue;
      r.names.forEach((n, i) => (req.params[n] = decodeURIComponent(m[i + 1]!)));
      return r.handler(req);
    }
    return pathMatched ? this.methodNotAllowed(req) : this.notFound(req);
  }

  protected notFound(_req: SimRequest): SimReply | Promise<SimReply> {
    return this.errorReply(404, 'Not found');
  }

  protected methodNotAllowed(_req: SimRequest): SimReply | Promise<SimReply> {
    return this.errorReply(405, 'Method not allowed');
  }

  /** The body of the simulator's own 404, 405 and 500 answers; a vendor with an error format overrides it. */
  protected errorReply(status: number, message: string): SimReply {
    return { status, json: { error: message } };
  }

  private send(res: ServerResponse, reply: SimReply): void {
    if (res.destroyed) return;
    const headers: Record<string, string> = { ...reply.headers };
    let body = '';
    if (reply.json !== undefined) {
      body = JSON.stringify(reply.json);
      headers['content-type'] ??= 'application/json; charset=utf-8';
    } else if (reply.text !== undefined) {
      body = reply.text;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    }
    if (reply.stream) return this.stream(res, reply, headers);
    if (reply.statusText !== undefined) res.writeHead(reply.status ?? 200, reply.statusText, headers);
    else res.writeHead(reply.status ?? 200, headers);
    res.end(body);
  }

  private stream(res: ServerResponse, reply: SimReply, headers: Record<string, string>): void {
    res.writeHead(reply.status ?? 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
    res.flushHeaders();
    reply.stream!({
      write: (text) => !res.destroyed && res.write(text),
      end: () => res.end(),
      destroy: () => res.socket?.destroy(),
      onClose: (listener) => res.once('close', listener),
      get closed() {
        return res.destroyed || res.writableEnded;
      },
    });
  }
}

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { TLSSocket } from 'node:tls';
import { selfSignedCertificate } from '../../../simulators/nureva/simulator.js';
import { RateLimitedError, UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError } from '../../../src/errors.js';
import { parseJson, parseRetryAfter, UpstreamClient } from '../../../src/upstream/client.js';
import { AdaptiveConcurrency, RateLimiter } from '../../../src/limits/rate-limiter.js';
import { RequestScope } from '../../../src/limits/request-scope.js';
import { createLogger, SecretRegistry } from '../../../src/logger.js';
import { Metrics } from '../../../src/metrics.js';
import { EchoSimulator } from '../../helpers/echo-simulator.js';
import { LogCollector } from '../../helpers/gateway.js';

describe('upstream client', () => {
  const sim = new EchoSimulator();
  const other = new EchoSimulator();
  const metrics = new Metrics();
  const logs = new LogCollector();
  const logger = createLogger({ level: 'debug', secrets: new SecretRegistry(), destination: logs });
  let client: UpstreamClient;
  let attempts = 0;
  let busy = 0;

  beforeAll(async () => {
    await other.start();
    sim
      .on('GET', '/ok', () => ({ json: { ok: true } }))
      .on('GET', '/redirect', () => ({ status: 302, headers: { location: `${other.url}/stolen` } }))
      .on('GET', '/flaky', () => (++attempts === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { json: { attempt: attempts } }))
      .on('GET', '/dated', () => (++attempts === 1 ? { status: 429, headers: { 'retry-after': new Date(Date.now() + 1500).toUTCString() } } : { json: { attempt: attempts } }))
      .on('POST', '/write', () => ({ status: 429, headers: { 'retry-after': '7' } }))
      .on('GET', '/throttled', () => ({ status: 429, headers: { 'retry-after': '30' } }))
      .on('GET', '/busy', () => (++attempts < 3 ? { status: 503 } : { json: { attempt: attempts } }))
      .on('GET', '/html', () => ({ text: '<html><body>Maintenance</body></html>', headers: { 'content-type': 'text/html' } }))
      .on('GET', '/huge', () => ({ text: 'x'.repeat(3 * 1024 * 1024) }))
      .on('POST', '/echo', (req) => ({ json: { contentType: req.headers['content-type'], body: req.rawBody } }))
      .on('GET', '/down', () => ({ status: 503, text: '<html>down</html>' }))
      .on('GET', '/busy-later', () => ({ status: 503, headers: { 'retry-after': '5' } }))
      .on('POST', '/pause', () => ({ status: 429, headers: { 'retry-after': '2' } }))
      .on('GET', '/after-pause', () => ({ json: { ok: true } }));
    // Plain JSON reads (the hot call's shape: a body of its own, no headers of its own).
    sim
      .on('POST', '/json-ok', () => ({ json: { ok: true } }))
      .on('POST', '/json-down', () => ({ status: 503, text: '<html>down</html>' }))
      .on('POST', '/json-redirect', () => ({ status: 302, headers: { location: `${other.url}/stolen` } }))
      .on('POST', '/json-slow', async () => {
        await new Promise((r) => setTimeout(r, 3000));
        return { json: {} };
      })
      .on('POST', '/json-busy', async () => {
        await new Promise((r) => setTimeout(r, 50));
        return ++busy < 3 ? { status: 503 } : { json: { attempt: busy } };
      });
    sim.on('GET', '/wait', async () => {
      await new Promise((r) => setTimeout(r, 250));
      return { json: {} };
    });
    sim.on('GET', '/slow', async () => {
      await new Promise((r) => setTimeout(r, 3000));
      return { json: {} };
    });
    await sim.start();
    client = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: sim.url, timeoutMs: 5000, metrics, logger });
  });
  afterAll(async () => {
    await client.close();
    await sim.stop();
    await other.stop();
  });

  test('keeps connections alive between calls', async () => {
    const before = sim.connections;
    for (let i = 0; i < 20; i++) expect((await client.request({ operation: 't.ok', method: 'GET', path: '/ok' })).status).toBe(200);
    // 20 calls in a row ride on the pool's sockets (undici may open a second while the first is released).
    expect(sim.connections - before).toBeLessThanOrEqual(2);
  });

  test("an answer's headers read as undici names them (lower-case, a repeated one as a list), __proto__ only a header, no raw bytes when logged", async () => {
    const server = createHttpServer((_req, res) => {
      res.setHeader('X-Vendor-Trace', 'abc');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.setHeader('__proto__', 'plain');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const own = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`, timeoutMs: 5000, metrics, logger });
    try {
      const res = await own.request({ operation: 't.headers', method: 'GET', path: '/' });
      // What a log line of the answer would hold, before and after its headers are read: no header bytes (Set-Cookie among them).
      expect(JSON.stringify(res)).not.toMatch(/Buffer|a=1/);
      expect(res.text).toBe('{"ok":true}');
      expect(res.headers['x-vendor-trace']).toBe('abc');
      expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(res.headers['content-type']).toBe('application/json');
      expect(Object.getOwnPropertyDescriptor(res.headers, '__proto__')?.value).toBe('plain');
      // Read twice, parsed once: the same object.
      expect(res.headers).toBe(res.headers);
      expect(JSON.stringify(res)).not.toMatch(/Buffer|a=1/);
    } finally {
      await own.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('never follows a redirect', async () => {
    await expect(client.request({ operation: 't.redirect', method: 'GET', path: '/redirect', read: true })).rejects.toBeInstanceOf(UpstreamError);
    expect(other.requests).toBe(0);
  });

  test('a throttled read waits for Retry-After (seconds) and succeeds', async () => {
    attempts = 0;
    const t = Date.now();
    const res = await client.request({ operation: 't.flaky', method: 'GET', path: '/flaky', read: true });
    expect(Date.now() - t).toBeGreaterThanOrEqual(1000);
    expect(parseJson<{ attempt: number }>('NUVEQ', res).attempt).toBe(2);
  });

  test('Retry-After as an HTTP date is honoured too', async () => {
    attempts = 0;
    const t = Date.now();
    const res = await client.request({ operation: 't.dated', method: 'GET', path: '/dated', read: true });
    expect(Date.now() - t).toBeGreaterThanOrEqual(400);
    expect(res.status).toBe(200);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:50 GMT'))).toBe(10);
    expect(parseRetryAfter('12')).toBe(12);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  test('writes are never retried: a throttled write is RATE_LIMITED with retryAfter', async () => {
    sim.resetLog();
    const error = await client.request({ operation: 't.write', method: 'POST', path: '/write', json: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 7, vendor: 'NUVEQ' });
    expect(sim.requests).toBe(1);
  });

  test('a wait beyond the budget is not waited: RATE_LIMITED at once', async () => {
    const t = Date.now();
    const error = await client.request({ operation: 't.throttled', method: 'GET', path: '/throttled', read: true }).catch((e: unknown) => e);
    expect(Date.now() - t).toBeLessThan(1000);
    expect((error as RateLimitedError).retryAfter).toBe(30);
  });

  test('503 on a read is retried with backoff within the budget', async () => {
    attempts = 0;
    const res = await client.request({ operation: 't.busy', method: 'GET', path: '/busy', read: true });
    expect(res.status).toBe(200);
    expect(attempts).toBe(3);
  });

  test('a slow vendor gives UPSTREAM_TIMEOUT at the deadline', async () => {
    const fast = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: sim.url, timeoutMs: 500, metrics, logger });
    const t = Date.now();
    await expect(fast.request({ operation: 't.slow', method: 'GET', path: '/slow', read: true })).rejects.toBeInstanceOf(UpstreamTimeoutError);
    expect(Date.now() - t).toBeGreaterThanOrEqual(450);
    expect(Date.now() - t).toBeLessThan(1500);
    await fast.close();
  });

  test.each([
    ['headers, then a body that trickles in', (res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(' ')), 100);
      res.on('close', () => clearInterval(drip));
    }],
    ['headers and the first bytes of the body, then a trickle', (res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"a":');
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(' ')), 100);
      res.on('close', () => clearInterval(drip));
    }],
    ['headers, then no body at all', (res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '10' });
      res.flushHeaders();
    }],
  ])('a vendor sending %s gives UPSTREAM_TIMEOUT at the deadline, not later', async (_what, answer) => {
    // In the trickle cases each chunk resets undici's idle bodyTimeout, so only the gateway's own
    // deadline stops them; a body that never starts is undici's bodyTimeout's, and must stay so.
    const server = createHttpServer((_req, res) => answer(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const slow = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 600, metrics, logger });
    try {
      const t = Date.now();
      const call = slow.request({ operation: 't.trickle', method: 'GET', path: '/' }).catch((e: unknown) => e);
      const error = await Promise.race([call, new Promise((r) => setTimeout(r, 3000, 'still waiting after 3 s'))]);
      const took = Date.now() - t;
      expect(error).toBeInstanceOf(UpstreamTimeoutError);
      expect(took).toBeGreaterThanOrEqual(550);
      expect(took).toBeLessThan(1000);
    } finally {
      server.closeAllConnections();
      await slow.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a refused connection gives UPSTREAM_UNAVAILABLE', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const dead = new UpstreamClient({ vendor: 'NUREVA', baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000, metrics, logger });
    await expect(dead.request({ operation: 't.dead', method: 'GET', path: '/', read: true })).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await dead.close();
  });

  test('HTML instead of JSON is UPSTREAM_ERROR; so is an answer over the size limit', async () => {
    const res = await client.request({ operation: 't.html', method: 'GET', path: '/html' });
    expect(() => parseJson('NUVEQ', res)).toThrow(UpstreamError);
    await expect(client.request({ operation: 't.huge', method: 'GET', path: '/huge' })).rejects.toBeInstanceOf(UpstreamError);
  });

  test('JSON and form bodies carry their content types', async () => {
    const json = parseJson<{ contentType: string; body: string }>('NUVEQ', await client.request({ operation: 't.echo', method: 'POST', path: '/echo', json: { a: 1 } }));
    expect(json).toEqual({ contentType: 'application/json', body: '{"a":1}' });
    const form = parseJson<{ contentType: string; body: string }>('NUVEQ', await client.request({ operation: 't.echo', method: 'POST', path: '/echo', form: { grant_type: 'password', username: 'a b' } }));
    expect(form).toEqual({ contentType: 'application/x-www-form-urlencoded', body: 'grant_type=password&username=a+b' });
  });

  test('time queued behind the concurrency limit does not count against the vendor timeout', async () => {
    // One call at a time, 250 ms each, a 700 ms timeout: the sixth call starts 1.25 s after it was
    // asked for, yet its vendor answers in 250 ms, so none of them times out.
    const serial = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: sim.url, timeoutMs: 700, metrics, logger, concurrency: new AdaptiveConcurrency(1) });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => serial.request({ operation: 't.wait', method: 'GET', path: '/wait', read: true })));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill('fulfilled'));
    await serial.close();
  });

  test('every way a call ends gives its concurrency slots back, the batch\'s and the process\'s', async () => {
    const concurrency = new AdaptiveConcurrency(2, { processMax: 2 });
    const gate = concurrency.batch();
    // Metrics of its own: the other tests count this client's operations.
    const c = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: sim.url, timeoutMs: 3000, metrics: new Metrics(), logger, concurrency, maxAttempts: 1 });
    try {
      const calls = [
        () => c.request({ operation: 't.ok', method: 'GET', path: '/ok', read: true, gate }),
        () => c.request({ operation: 't.down', method: 'GET', path: '/down', read: true, gate }),
        () => c.request({ operation: 't.redirect', method: 'GET', path: '/redirect', read: true, gate }),
        () => c.request({ operation: 't.slow', method: 'GET', path: '/slow', read: true, gate, deadline: Date.now() + 200 }),
        () => c.request({ operation: 't.ok', method: 'GET', path: '/ok', read: true }),
        () => c.request({ operation: 't.redirect', method: 'GET', path: '/redirect', read: true }),
      ];
      // One at a time, so each finds its slots free and takes them at once (calls that queue are
      // given their slots, and give them back, by the gate itself).
      const ends: string[] = [];
      for (const call of calls) {
        const end = call().then((r) => String(r.status), (e: Error) => e.constructor.name);
        // Slots never given back leave a later call waiting for ever (or show in the counts below).
        let timer: NodeJS.Timeout | undefined;
        ends.push(await Promise.race([end, new Promise<string>((r) => (timer = setTimeout(r, 2000, 'still waiting for a slot')))]));
        clearTimeout(timer);
      }
      expect(ends).toEqual(['200', '503', 'UpstreamError', 'UpstreamTimeoutError', '200', 'UpstreamError']);
      // Both slots of each bound are free again: two calls start at once and a third waits.
      const next = Array.from({ length: 3 }, () => c.request({ operation: 't.wait', method: 'GET', path: '/wait', read: true, gate }));
      expect(gate.waiting).toBe(1);
      expect(concurrency.waiting).toBe(0);
      const alone = Array.from({ length: 3 }, () => c.request({ operation: 't.wait', method: 'GET', path: '/wait', read: true }));
      expect(concurrency.waiting).toBe(3);
      expect((await Promise.all([...next, ...alone])).map((r) => r.status)).toEqual(Array(6).fill(200));
    } finally {
      await c.close();
    }
  });

  test('a plain JSON read (the hot call) gives its process slot back however it ends, and holds it through its retries', async () => {
    const concurrency = new AdaptiveConcurrency(1, { processMax: 1 });
    const c = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: sim.url, timeoutMs: 3000, metrics: new Metrics(), logger, concurrency, maxAttempts: 1 });
    const plain = (path: string, deadline?: number) => c.request({ operation: 't.json', method: 'POST', path, jsonText: '{"a":1}', read: true, deadline });
    try {
      const ends: string[] = [];
      for (const path of ['/json-ok', '/json-down', '/json-redirect', '/json-slow', '/json-ok']) {
        const end = plain(path, path === '/json-slow' ? Date.now() + 200 : undefined).then((r) => String(r.status), (e: Error) => e.constructor.name);
        let timer: NodeJS.Timeout | undefined;
        ends.push(await Promise.race([end, new Promise<string>((r) => (timer = setTimeout(r, 2000, 'still waiting for a slot')))]));
        clearTimeout(timer);
      }
      expect(ends).toEqual(['200', '503', 'UpstreamError', 'UpstreamTimeoutError', '200']);
      // The one slot is free again: of two calls, one starts and one waits.
      const two = [plain('/json-ok'), plain('/json-ok')];
      expect(concurrency.waiting).toBe(1);
      expect((await Promise.all(two)).map((r) => r.status)).toEqual([200, 200]);
      expect(concurrency.waiting).toBe(0);
      const retrying = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: sim.url, timeoutMs: 3000, metrics: new Metrics(), logger, concurrency, maxAttempts: 3 });
      try {
        // Two 503s, then an answer: the slot stays taken through the retries, so a second call waits.
        const first = retrying.request({ operation: 't.json', method: 'POST', path: '/json-busy', jsonText: '{}', read: true });
        const second = plain('/json-ok');
        expect(concurrency.waiting).toBe(1);
        expect((await first).status).toBe(200);
        expect(busy).toBe(3);
        expect((await second).status).toBe(200);
        expect(concurrency.waiting).toBe(0);
      } finally {
        await retrying.close();
      }
    } finally {
      await c.close();
    }
  });

  test("a plain JSON read in a batch: a process turn that never comes gives the batch's slot back", async () => {
    const concurrency = new AdaptiveConcurrency(2, { processMax: 2 });
    const gate = concurrency.batch();
    const c = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: sim.url, timeoutMs: 3000, metrics: new Metrics(), logger, concurrency, maxAttempts: 1 });
    const batched = (ms: number) => c.request({ operation: 't.json', method: 'POST', path: '/json-ok', jsonText: '{}', read: true, gate, scope: new RequestScope(undefined, Date.now() + ms, 10) });
    try {
      // Both process slots taken by slow calls outside the batch.
      const slow = [1, 2].map(() => c.request({ operation: 't.json', method: 'POST', path: '/json-slow', jsonText: '{}', read: true, deadline: Date.now() + 600 }).catch((e: Error) => e.constructor.name));
      // A batch call takes one of the batch's two slots, then waits for a process slot past its deadline.
      const late = batched(150);
      expect(gate.waiting).toBe(0);
      expect(concurrency.waiting).toBe(1);
      await expect(late).rejects.toThrow();
      // Both batch slots are free again: two more calls take them and wait for the process.
      const next = [batched(5000), batched(5000)];
      expect(gate.waiting).toBe(0);
      expect(concurrency.waiting).toBe(2);
      expect(await Promise.all(slow)).toEqual(['UpstreamTimeoutError', 'UpstreamTimeoutError']);
      expect((await Promise.all(next)).map((r) => r.status)).toEqual([200, 200]);
    } finally {
      await c.close();
    }
  });

  test('a 503 without Retry-After is a vendor down, not throttling: concurrency stays; with Retry-After it shrinks', async () => {
    const concurrency = new AdaptiveConcurrency(8);
    const c = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: sim.url, timeoutMs: 3000, metrics, logger, concurrency, throttleStatuses: [429, 503], maxAttempts: 1 });
    const down = await c.request({ operation: 't.down', method: 'GET', path: '/down', read: true });
    expect(down.status).toBe(503);
    expect(concurrency.current).toBe(8);
    const error = await c.request({ operation: 't.busyLater', method: 'GET', path: '/busy-later', read: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfter).toBe(5);
    expect(concurrency.current).toBe(4);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/operation="t.down",outcome="server_error"\} 1/);
    expect(text).toMatch(/operation="t.busyLater",outcome="throttled"\} 1/);
    await c.close();
  });

  test("a vendor's Retry-After holds back every caller of that endpoint, not only the one it answered", async () => {
    const limiter = new RateLimiter({ metrics });
    const c = new UpstreamClient({ vendor: 'PLATFORM', baseUrl: sim.url, timeoutMs: 5000, metrics, logger, limiter });
    const rate = { key: 't:endpoint', rules: [{ limit: 100, windowMs: 60_000 }] };
    sim.resetLog();
    const first = await c.request({ operation: 't.pause', method: 'POST', path: '/pause', json: {}, rate }).catch((e: unknown) => e);
    expect((first as RateLimitedError).retryAfter).toBe(2);
    // A caller that cannot wait 2 s is refused at once, and nothing reaches the vendor.
    const hasty = await c.request({ operation: 't.afterPause', method: 'GET', path: '/after-pause', read: true, rate, deadline: Date.now() + 500 }).catch((e: unknown) => e);
    expect(hasty).toBeInstanceOf(RateLimitedError);
    expect(sim.requests).toBe(1);
    // One that can wait goes once the pause is over.
    const t = Date.now();
    expect((await c.request({ operation: 't.afterPause', method: 'GET', path: '/after-pause', read: true, rate })).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1400);
    expect(sim.requests).toBe(2);
    await c.close();
  });

  test('a TLS handshake that never ends fails within the vendor timeout, not undici’s 10 s', async () => {
    // Accepts TCP and then says nothing: the handshake hangs.
    const sockets: import('node:net').Socket[] = [];
    const mute = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as { port: number }).port;
    const c = new UpstreamClient({ vendor: 'NEXUDUS', baseUrl: `https://127.0.0.1:${port}`, timeoutMs: 600, metrics, logger });
    const t = Date.now();
    await expect(c.request({ operation: 't.mute', method: 'GET', path: '/', read: false })).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(Date.now() - t).toBeLessThan(2000);
    await c.close();
    sockets.forEach((s) => s.destroy());
    await new Promise<void>((r) => mute.close(() => r()));
  });

  test('a retry that needs a new connection, which never completes, still ends at the deadline', async () => {
    // The first connection answers 503 after 400 ms and closes; every later handshake hangs. The
    // retry's connect would otherwise be bounded by the full vendor timeout, not the time left.
    const { key, cert } = await selfSignedCertificate();
    const held: import('node:net').Socket[] = [];
    let connections = 0;
    const server = createServer((socket) => {
      if (++connections > 1) return void held.push(socket);
      const tlsSocket = new TLSSocket(socket, { isServer: true, key, cert });
      tlsSocket.once('data', () => setTimeout(() => tlsSocket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'), 400));
      tlsSocket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const c = new UpstreamClient({ vendor: 'NUREVA', baseUrl: `https://127.0.0.1:${port}`, timeoutMs: 1000, metrics, logger, connect: { ca: cert, timeout: 1000 } });
    try {
      const t = Date.now();
      const error = await c.request({ operation: 't.reconnect', method: 'GET', path: '/', read: true }).catch((e: unknown) => e);
      const took = Date.now() - t;
      expect(connections).toBe(2);
      expect(error).toBeInstanceOf(UpstreamTimeoutError);
      expect(took).toBeGreaterThanOrEqual(950);
      expect(took).toBeLessThan(1200);
    } finally {
      held.forEach((s) => s.destroy());
      await c.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a failure whose logging throws still ends the call, with what was thrown', async () => {
    // The warning for a failed call is written from undici's callback: if writing it throws, the
    // caller must still hear of it (and the gate's slot come back), not wait for ever.
    const broken = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: logs });
    broken.warn = () => {
      throw new Error('the log is broken');
    };
    const c = new UpstreamClient({ vendor: 'NUREVA', baseUrl: 'http://127.0.0.1:1', timeoutMs: 1000, metrics, logger: broken, maxAttempts: 1 });
    try {
      await expect(c.request({ operation: 't.unlogged', method: 'GET', path: '/' })).rejects.toThrow('the log is broken');
    } finally {
      await c.close();
    }
  });

  test('with tracing on, a call outside any traced request logs no trace, on a connection a traced one opened', async () => {
    // undici calls back in the context of whoever opened the connection: a background call (a
    // subscription's, a stream's login) reusing it must not log under that request's trace.
    const { trace, ROOT_CONTEXT } = await import('@opentelemetry/api');
    const { traceStore, logFields } = await import('../../../src/tracing/spans.js');
    const lines = new LogCollector();
    const traced = createLogger({ level: 'debug', secrets: new SecretRegistry(), destination: lines, mixin: logFields });
    const server = createHttpServer((req, res) => (req.url === '/fail' ? req.socket.destroy() : res.writeHead(200, { 'content-type': 'application/json' }).end('{}')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const tracing = { tracer: trace.getTracer('test'), extract: () => ROOT_CONTEXT, inject: () => undefined, propagateToVendors: false, shutdown: () => Promise.resolve() };
    const c = new UpstreamClient({ vendor: 'NUVEQ', baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`, timeoutMs: 2000, metrics, logger: traced, connections: 1, maxAttempts: 1, tracing });
    const TRACE = 'a'.repeat(32);
    try {
      const context = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: 'b'.repeat(16), traceFlags: 1 });
      await traceStore.run({ context }, () => c.request({ operation: 't.opener', method: 'GET', path: '/ok', read: true }));
      await c.request({ operation: 't.background', method: 'GET', path: '/ok', read: true });
      await expect(c.request({ operation: 't.background-failed', method: 'GET', path: '/fail', read: true })).rejects.toThrow();
      const entries = lines.entries();
      // The opener's own line carries its trace: the connection was the one it opened.
      expect(entries.find((l) => l.operation === 't.opener')).toMatchObject({ trace_id: TRACE });
      const background = entries.filter((l) => l.operation === 't.background' || l.operation === 't.background-failed');
      expect(background.map((l) => l.msg)).toEqual(['vendor call', 'vendor call failed']);
      for (const line of background) expect(line.trace_id).toBeUndefined();
    } finally {
      await c.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('metrics count calls per vendor, operation and outcome', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/switchboard_upstream_requests_total\{vendor="NUVEQ",operation="t.flaky",outcome="throttled"\} \d/);
    expect(text).toMatch(/switchboard_upstream_requests_total\{vendor="NUVEQ",operation="t.slow",outcome="timeout"\} 1/);
    expect(text).toMatch(/switchboard_upstream_requests_total\{vendor="NUREVA",operation="t.dead",outcome="unavailable"\} \d/);
  });
});

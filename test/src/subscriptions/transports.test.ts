import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import WebSocket from 'ws';
import { nurevaEnv, startNureva } from '../../../simulators/nureva/demo.js';
import type { NurevaSimulator } from '../../../simulators/nureva/simulator.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { sleep, subscribe, within, type LiveSubscription } from '../../helpers/subscriptions.js';

/**
 * The subscription transports' own bounds and checks: subscriptions per connection and per
 * session, connections per client, streams per device, the WebSocket's origin, and the same
 * request pipeline for GraphQL over SSE as for POST /graphql.
 */
const LOGIN = 'mutation($d: ID!, $a: NurevaAccount!, $p: String!) { loginNureva(deviceId: $d, account: $a, password: $p) { token } }';
const CONNECTION = 'subscription($d: ID!) { deviceConnection(deviceId: $d) { online } }';
const SOUND = 'subscription($d: ID!) { deviceSoundLocation(deviceId: $d) { powerLevel } }';

/** A raw request (any method, headers and body) to the gateway, for what fetch would shape or refuse. */
function raw(url: string, path: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        // An event stream: one chunk with the first event is enough to judge it.
        if (String(res.headers['content-type']).startsWith('text/event-stream') && Buffer.concat(chunks).includes('event: complete')) res.destroy();
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens a WebSocket and says whether the upgrade was accepted (and the status when it was not). */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<{ opened: boolean; status?: number; socket?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers });
    ws.once('open', () => resolve({ opened: true, socket: ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ opened: false, status: res.statusCode });
      ws.terminate();
    });
    ws.once('error', () => resolve({ opened: false }));
  });
}

describe('subscription transports', () => {
  let room: NurevaSimulator;
  let gw: TestGateway;
  let token: string;
  const open: LiveSubscription[] = [];
  const live = (query: string, transport: 'ws' | 'sse' = 'ws', as = token, variables: Record<string, unknown> = { d: 'room-1' }) => {
    const s = subscribe(transport, gw.url, as, query, variables);
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    room = await startNureva({ accounts: { monitor: { enabled: true, password: 'm-1' }, integrator: { enabled: true, password: 'i-1' } }, enrollmentCode: 'A-1' });
    gw = await startGateway({
      ...nurevaEnv([{ id: 'room-1', sim: room }]),
      SUBSCRIPTIONS_PER_CONNECTION: '3',
      SUBSCRIPTIONS_PER_SESSION: '4',
      SUBSCRIPTION_CONNECTIONS_PER_CLIENT: '6',
      NUREVA_STREAMS_PER_DEVICE: '3',
      CORS_ORIGINS: 'https://app.example.com',
      GRAPHQL_MAX_LIST_ITEMS: '5',
    });
    token = (await gw.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-1', a: 'MONITOR', p: 'm-1' })).data!.loginNureva.token;
  });
  afterEach(async () => {
    for (const s of open.splice(0)) s.close();
    const started = Date.now();
    while (gw.gateway.subscriptions.size > 0 || room.streams.open() > 0) {
      if (Date.now() - started > 3000) throw new Error('subscriptions or device streams were left open');
      await sleep(25);
    }
  });
  afterAll(async () => {
    await gw.close();
    await room.stop();
  });

  test('a WebSocket connection holds at most SUBSCRIPTIONS_PER_CONNECTION subscriptions', async () => {
    const { wsClient } = await import('../../helpers/subscriptions.js');
    const client = wsClient(gw.url, token);
    const results: unknown[][] = [[], [], [], []];
    const disposers = results.map((r) => client.subscribe({ query: CONNECTION, variables: { d: 'room-1' } }, { next: (v) => r.push(v), error: (e) => r.push({ error: e }), complete: () => r.push('complete') }));
    await sleep(1500);
    const refused = results.filter((r) => JSON.stringify(r).includes('SUBSCRIPTIONS_PER_CONNECTION'));
    expect(refused).toHaveLength(1);
    expect(JSON.stringify(refused[0])).toContain('RATE_LIMITED');
    expect(results.filter((r) => JSON.stringify(r).includes('"online":true'))).toHaveLength(3);
    disposers.forEach((d) => d());
    await client.dispose();
  });

  test('a session holds at most SUBSCRIPTIONS_PER_SESSION subscriptions, over any number of connections', async () => {
    const subs = [1, 2, 3, 4].map((i) => live(CONNECTION, i % 2 ? 'ws' : 'sse'));
    await Promise.all(subs.map((s) => s.nextData(5000, 0)));
    const fifth = live(CONNECTION, 'sse');
    expect(await fifth.errorCode()).toBe('RATE_LIMITED');
    // Another session is not affected.
    const other = (await gw.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-1', a: 'GENERAL', p: '' })).data!.loginNureva.token;
    await live(CONNECTION, 'ws', other).nextData(5000, 0);
    subs[0]!.close();
    await sleep(100);
    await live(CONNECTION, 'ws').nextData(5000, 0);
  });

  test('a client address holds at most SUBSCRIPTION_CONNECTIONS_PER_CLIENT WebSockets and event streams', async () => {
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await upgrade(gw.url);
      expect(r.opened).toBe(true);
      sockets.push(r.socket!);
    }
    const stream = live(CONNECTION, 'sse');
    await stream.nextData(5000, 0);
    expect(await upgrade(gw.url)).toEqual({ opened: false, status: 429 });
    const refusedStream = await raw(gw.url, '/graphql/stream', 'POST', { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` }, JSON.stringify({ query: CONNECTION, variables: { d: 'room-1' } }));
    expect(refusedStream.status).toBe(429);
    expect(refusedStream.text).toContain('RATE_LIMITED');
    for (const s of sockets) s.close();
    await sleep(200);
    const again = await upgrade(gw.url);
    expect(again.opened).toBe(true);
    again.socket!.close();
  });

  test('a WebSocket upgrade from an origin that is neither the gateway’s nor in CORS_ORIGINS is refused', async () => {
    expect(await upgrade(gw.url, { origin: 'https://evil.example' })).toEqual({ opened: false, status: 403 });
    const allowed = await upgrade(gw.url, { origin: 'https://app.example.com' });
    expect(allowed.opened).toBe(true);
    allowed.socket!.close();
    const same = await upgrade(gw.url, { origin: gw.url });
    expect(same.opened).toBe(true);
    same.socket!.close();
  });

  test('a device serves at most NUREVA_STREAMS_PER_DEVICE streams; the next credentials are refused with RATE_LIMITED', async () => {
    const logins = await Promise.all([
      ['GENERAL', ''],
      ['INTEGRATOR', 'i-1'],
      ['ADMIN', 'A-1'],
    ].map(async ([a, p]) => (await gw.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-1', a, p })).data!.loginNureva.token));
    // Heartbeat (1) + the data streams of two logins (2) = 3.
    await live(CONNECTION).nextData(5000, 0);
    await live(SOUND, 'ws', logins[0]).nextData(5000, 0);
    await live(SOUND, 'sse', logins[1]).nextData(5000, 0);
    const requests = room.requests;
    expect(await live(SOUND, 'ws', logins[2]).errorCode()).toBe('RATE_LIMITED');
    expect(room.requests).toBe(requests);
    expect(room.streams.open()).toBe(3);
    // A subscriber of a stream already open needs no new one.
    await live(SOUND, 'sse', logins[0]).nextData(5000, 0);
  });

  test('a stream the device refuses gives its place back: refusals never use up NUREVA_STREAMS_PER_DEVICE', async () => {
    const general = (await gw.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-1', a: 'GENERAL', p: '' })).data!.loginNureva.token;
    room.inject({ match: (r) => r.path === '/api/v1/events', reply: { status: 404, json: { errors: [{ message: 'Not found' }] } } });
    const EVENTS = 'subscription($d: ID!) { deviceEvents(deviceId: $d) { source } }';
    for (let i = 0; i < 5; i++) {
      const refused = live(EVENTS, i % 2 ? 'sse' : 'ws', general);
      expect(await refused.errorCode()).toBe('NOT_FOUND');
      await refused.untilEnded();
    }
    room.clearFaults();
    // The device still serves its full share.
    await live(CONNECTION).nextData(5000, 0);
    await live(EVENTS, 'ws', general).waitFor(() => true, 100).catch(() => undefined);
    await sleep(200);
    expect(room.streams.open()).toBe(2);
  });

  describe('GraphQL over SSE passes the same checks as POST /graphql', () => {
    const stream = (method: string, headers: Record<string, string>, body?: string, path = '/graphql/stream') => raw(gw.url, path, method, headers, body);
    const json = { 'content-type': 'application/json', accept: 'text/event-stream' };
    const body = (query: string, variables: unknown = { d: 'room-1' }) => JSON.stringify({ query, variables });

    test('only GET and POST, only for event streams, only JSON bodies, bounded', async () => {
      expect((await stream('PUT', { accept: 'text/event-stream' })).status).toBe(405);
      expect((await stream('DELETE', { accept: 'text/event-stream' })).status).toBe(405);
      const noAccept = await stream('POST', { 'content-type': 'application/json' }, body(CONNECTION));
      expect(noAccept.status).toBe(406);
      expect(JSON.parse(noAccept.text).errors[0].extensions.code).toBe('BAD_REQUEST');
      expect((await stream('POST', { 'content-type': 'text/plain', accept: 'text/event-stream' }, body(CONNECTION))).status).toBe(415);
      expect((await stream('POST', json, '{"query": ')).status).toBe(400);
      const huge = await stream('POST', json, JSON.stringify({ query: `#${'x'.repeat(1_100_000)}\n${CONNECTION}` }));
      expect(huge.status).toBe(413);
    });

    test('list sizes, the token limit and validation apply; queries and mutations are sent to POST /graphql', async () => {
      const list = await stream('POST', json, JSON.stringify({ query: CONNECTION, variables: { d: 'room-1', extra: [1, 2, 3, 4, 5, 6] } }));
      expect(list.text).toContain('GRAPHQL_MAX_LIST_ITEMS');
      const query = await stream('POST', { ...json, authorization: `Bearer ${token}` }, body('{ devices { id } }', {}));
      expect(query.text).toContain('BAD_REQUEST');
      expect(query.text).toContain('POST /graphql');
      const invalid = await stream('POST', json, body('subscription { deviceConnection(deviceId: "room-1") { nope } }', {}));
      expect(invalid.text).toContain('GRAPHQL_VALIDATION_FAILED');
      const unparsable = await stream('POST', json, body('subscription {', {}));
      expect(unparsable.text).toContain('GRAPHQL_PARSE_FAILED');
      const tokens = await stream('POST', json, body(`subscription { deviceConnection(deviceId: "room-1") { ${'online '.repeat(3000)} } }`, {}));
      expect(tokens.text).toMatch(/token/i);
      // None of it reached the device.
      expect(room.streams.open()).toBe(0);
    });

    test('a GET with the query in the URL works as EventSource sends it', async () => {
      const url = `/graphql/stream?query=${encodeURIComponent(CONNECTION)}&variables=${encodeURIComponent(JSON.stringify({ d: 'room-1' }))}`;
      const res = await new Promise<string>((resolve, reject) => {
        const req = httpRequest(`${gw.url}${url}`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` }, agent: false }, (r) => {
          r.on('data', (c: Buffer) => {
            if (c.includes('"online"')) {
              resolve(c.toString());
              r.destroy();
            }
          });
        });
        req.on('error', reject);
        req.end();
      });
      expect(res).toContain('event: next');
      expect(res).toContain('"online":true');
    });

    test('CORS: a preflight from an allowed origin is answered; the stream carries the CORS headers', async () => {
      const preflight = await raw(gw.url, '/graphql/stream', 'OPTIONS', { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
      const refused = await raw(gw.url, '/graphql/stream', 'OPTIONS', { origin: 'https://evil.example', 'access-control-request-method': 'POST' });
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  test('a subscription sent as a POST to /graphql is told where to go', async () => {
    const res = await gw.gql(CONNECTION, { d: 'room-1' }, token);
    expect(res.status).toBe(400);
  });

  test('stopping the gateway ends every subscription with a last answer, and closes the device streams', async () => {
    const sim = await startNureva({ accounts: { monitor: { enabled: true, password: 'm-2' } } });
    const other = await startGateway(nurevaEnv([{ id: 'room-2', sim }]));
    const t = (await other.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-2', a: 'MONITOR', p: 'm-2' })).data!.loginNureva.token;
    const subs = [subscribe('ws', other.url, t, SOUND, { d: 'room-2' }), subscribe('sse', other.url, t, CONNECTION, { d: 'room-2' })];
    await Promise.all(subs.map((s) => s.nextData(5000, 0)));
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(5000);
    for (const s of subs) await s.untilEnded(3000);
    expect(sim.streams.open()).toBe(0);
    await sim.stop();
  });
});

describe('subscription churn', () => {
  test('subscribing and leaving in a loop reuses the stream (it lingers a second), and cannot spend the device’s stream requests', async () => {
    const room = await startNureva();
    const gw = await startGateway(nurevaEnv([{ id: 'room-1', sim: room }]));
    const token = (await gw.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-1', a: 'GENERAL', p: '' })).data!.loginNureva.token;
    const before = room.count((r) => r.path === '/api/v1/heartbeat');
    for (let i = 0; i < 20; i++) {
      const s = subscribe('ws', gw.url, token, CONNECTION, { d: 'room-1' });
      await s.nextData(5000, 0);
      s.close();
    }
    expect(room.count((r) => r.path === '/api/v1/heartbeat') - before).toBeLessThanOrEqual(2);
    // Slower than the linger: new streams for new subscribers are capped below the device's 60 a
    // minute, so the streams already open can still reconnect.
    const codes: unknown[] = [];
    for (let i = 0; i < 45 && !codes.includes('RATE_LIMITED'); i++) {
      const s = subscribe('sse', gw.url, token, CONNECTION, { d: 'room-1' });
      const first = await s.waitFor(() => true, 5000);
      codes.push(first.errors?.[0]?.extensions?.code ?? 'data');
      s.close();
      await within(3000, () => room.streams.open() === 0, 'the stream closed after its linger');
    }
    expect(codes).toContain('RATE_LIMITED');
    expect(room.count((r) => r.path === '/api/v1/heartbeat') - before).toBeLessThanOrEqual(45);
    expect(room.refusedStreams).toBe(0);
    await gw.close();
    await room.stop();
  }, 120_000);

});

describe('subscriptions across replicas (sessions in Redis)', () => {
  test('a logout on one replica ends the session’s subscriptions on another within 2 s', async () => {
    const { startRedis } = await import('../../helpers/redis.js');
    const redis = await startRedis();
    const sim = await startNureva();
    const env = { ...nurevaEnv([{ id: 'room-1', sim }]), REDIS_URL: redis.url, REPLICAS: '2' };
    const a = await startGateway(env);
    const b = await startGateway(env);
    try {
      const t = (await a.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-1', a: 'GENERAL', p: '' })).data!.loginNureva.token;
      const live = subscribe('sse', b.url, t, CONNECTION, { d: 'room-1' });
      await live.nextData(5000, 0);
      expect((await a.gql<{ logout: boolean }>('mutation { logout }', {}, t)).data?.logout).toBe(true);
      const started = Date.now();
      expect(await live.errorCode(2000)).toBe('UNAUTHENTICATED');
      expect(Date.now() - started).toBeLessThan(2000);
      live.close();
    } finally {
      await a.close();
      await b.close();
      await sim.stop();
      await redis.stop();
    }
  }, 30_000);
});

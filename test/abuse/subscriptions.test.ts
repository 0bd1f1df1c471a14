import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import WebSocket from 'ws';
import { nurevaEnv, startNureva } from '../../simulators/nureva/demo.js';
import type { NurevaSimulator } from '../../simulators/nureva/simulator.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { wsClient } from '../helpers/subscriptions.js';
import { heapAfterGc, MB } from './helpers.js';

/**
 * What a subscriber can make the gateway hold by not reading: nothing beyond its bounded buffer.
 * A WebSocket client and an SSE client stop reading for 30 s while the device sends 50 events a
 * second of 20 KB each (30 MB in all); another subscriber keeps receiving throughout.
 */
const LOGIN = 'mutation($d: ID!, $a: NurevaAccount!, $p: String!) { loginNureva(deviceId: $d, account: $a, password: $p) { token } }';
const EVENTS = 'subscription($d: ID!) { deviceEvents(deviceId: $d) { source data } }';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A graphql-transport-ws subscriber on a raw socket that stops reading once subscribed. */
async function stalledWebSocket(url: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await new Promise((resolve) => ws.once('message', resolve));
  ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: EVENTS, variables: { d: 'room-1' } } }));
  ws.pause();
  return ws;
}

/** A GraphQL-over-SSE subscriber that stops reading once the stream answered. */
function stalledEventStream(url: string, token: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/graphql/stream`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` }, agent: false }, (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query: EVENTS, variables: { d: 'room-1' } }));
  });
}

describe('abuse: subscribers that stop reading', () => {
  let room: NurevaSimulator;
  let gw: TestGateway;
  beforeAll(async () => {
    room = await startNureva();
    gw = await startGateway({ ...nurevaEnv([{ id: 'room-1', sim: room }]), LOG_LEVEL: 'warn' });
  });
  afterAll(async () => {
    await gw.close();
    await room.stop();
  });

  test('30 s of 50 events a second to two stalled subscribers: the heap stays within 20 MB, the others keep receiving', async () => {
    const token = (await gw.gql<{ loginNureva: { token: string } }>(LOGIN, { d: 'room-1', a: 'GENERAL', p: '' })).data!.loginNureva.token;
    let received = 0;
    const reader = wsClient(gw.url, token);
    const dispose = reader.subscribe({ query: EVENTS, variables: { d: 'room-1' } }, { next: () => void received++, error: () => undefined, complete: () => undefined });
    const ws = await stalledWebSocket(gw.url, token);
    const sse = await stalledEventStream(gw.url, token);
    while (room.streams.open('events') < 1) await sleep(25);
    await sleep(200);
    const layout = { zones: Array.from({ length: 100 }, (_, i) => ({ id: `zone-${i}`, label: `Zone ${i} ${'x'.repeat(200)}` })) };
    expect(JSON.stringify(layout).length).toBeGreaterThan(19_000);
    const before = await heapAfterGc();
    const stopped = Date.now();
    let sent = 0;
    const flood = setInterval(() => {
      room.streams.emit('/api/v1/room/layout', () => ({ ...layout, n: sent++ }));
    }, 20);
    const marks: number[] = [];
    for (let i = 0; i < 6; i++) {
      await sleep(5000);
      marks.push(received);
    }
    clearInterval(flood);
    const after = await heapAfterGc();
    expect(sent).toBeGreaterThan(1000);
    expect((after - before) / MB).toBeLessThan(20);
    // The reader kept receiving through every 5 s of the flood.
    for (let i = 1; i < marks.length; i++) expect(marks[i]!).toBeGreaterThan(marks[i - 1]!);
    expect(received).toBeGreaterThan(sent * 0.9);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(/switchboard_subscription_events_dropped_total\{field="deviceEvents"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    dispose();
    await reader.dispose();
    ws.terminate();
    sse.destroy();
  }, 90_000);
});

import { describe, expect, test } from '@jest/globals';
import type { ExecutionResult } from 'graphql';
import { Channel } from '../../../src/subscriptions/channel.js';
import { Guarded } from '../../../src/subscriptions/guard.js';
import { UnauthenticatedError } from '../../../src/errors.js';

const format = (e: { message: string; extensions?: Record<string, unknown> }) => ({ message: e.message, extensions: e.extensions });

describe('Guarded: a subscription’s results as the transports send them', () => {
  test('an unsubscribe while no event comes reaches the source at once (an async generator would wait for the next event)', async () => {
    let closed = false;
    const source = new Channel<ExecutionResult>({ mode: 'queue', onClose: () => (closed = true) });
    let ended = 0;
    const g = new Guarded(source, format, () => ended++);
    const pending = g.next();
    await g.return();
    expect(closed).toBe(true);
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(ended).toBe(1);
  });

  test('stop(error) ends it with one last result carrying the error, then done', async () => {
    const source = new Channel<ExecutionResult>({ mode: 'queue' });
    const g = new Guarded(source, format, () => undefined);
    source.push({ data: { n: 1 } });
    expect((await g.next()).value).toEqual({ data: { n: 1 } });
    const pending = g.next();
    g.stop(new UnauthenticatedError('The session ended (logged out)'));
    const last = await pending;
    expect(JSON.parse(JSON.stringify(last.value))).toEqual({ errors: [{ message: 'The session ended (logged out)', extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(await g.next()).toEqual({ value: undefined, done: true });
  });

  test('stop(error) tells the source at once, even before the client reads the last result', () => {
    let closed = false;
    const source = new Channel<ExecutionResult>({ mode: 'queue', onClose: () => (closed = true) });
    const g = new Guarded(source, format, () => undefined);
    g.stop(new UnauthenticatedError('The session ended (logged out)'));
    expect(closed).toBe(true);
  });

  test('a source that fails gives its error as a result, not a transport failure', async () => {
    const source = new Channel<ExecutionResult>({ mode: 'queue' });
    const g = new Guarded(source, format, () => undefined);
    source.end(new Error('device refused'));
    const r = await g.next();
    expect(r.done).toBe(false);
    expect(JSON.stringify(r.value)).toContain('device refused');
    expect((await g.next()).done).toBe(true);
  });

  test('waiting for many events keeps none of them alive (no promise raced for ever)', async () => {
    const gc = (globalThis as { gc?: () => void }).gc!;
    const source = new Channel<ExecutionResult>({ mode: 'queue' });
    const g = new Guarded(source, format, () => undefined);
    const heap = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heap();
    for (let i = 0; i < 2000; i++) {
      const next = g.next();
      source.push({ data: { big: 'x'.repeat(10_000) + i } });
      await next;
    }
    expect((heap() - before) / 1024 / 1024).toBeLessThan(5);
    await g.return();
  });
});

import { describe, expect, test } from '@jest/globals';
import { Channel } from '../../../src/subscriptions/channel.js';
import { FanOut } from '../../../src/subscriptions/fan-out.js';

describe('Channel: one subscriber’s bounded buffer', () => {
  test('a value channel keeps only the newest value a slow reader has not taken', async () => {
    const c = new Channel<number>({ mode: 'latest' });
    for (let i = 0; i < 1000; i++) c.push(i);
    expect(await c.next()).toEqual({ value: 999, done: false });
    c.push(1000);
    expect(await c.next()).toEqual({ value: 1000, done: false });
  });

  test('an event channel keeps the newest `max` and counts each event dropped, oldest first', async () => {
    let dropped = 0;
    const c = new Channel<number>({ mode: 'queue', max: 3, onDrop: () => dropped++ });
    for (let i = 0; i < 10; i++) c.push(i);
    expect(dropped).toBe(7);
    expect([(await c.next()).value, (await c.next()).value, (await c.next()).value]).toEqual([7, 8, 9]);
  });

  test('a waiting reader gets the next value at once; return() ends a pending read and runs onClose once', async () => {
    let closed = 0;
    const c = new Channel<number>({ mode: 'queue', onClose: () => closed++ });
    const pending = c.next();
    c.push(1);
    expect(await pending).toEqual({ value: 1, done: false });
    const waiting = c.next();
    await c.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    await c.return();
    expect(closed).toBe(1);
    c.push(2);
    expect(await c.next()).toEqual({ value: undefined, done: true });
  });

  test('end(error) fails the reader; end() lets it read what is left first', async () => {
    const failing = new Channel<number>({ mode: 'queue' });
    const read = failing.next();
    failing.end(new Error('gone'));
    await expect(read).rejects.toThrow('gone');
    const ending = new Channel<number>({ mode: 'queue' });
    ending.push(1);
    ending.end();
    expect(await ending.next()).toEqual({ value: 1, done: false });
    expect(await ending.next()).toEqual({ value: undefined, done: true });
  });
});

describe('FanOut: one upstream per key', () => {
  test('opened on the first subscriber, shared, closed when the last leaves; each picks its part', async () => {
    const opened: string[] = [];
    const closed: string[] = [];
    const emits = new Map<string, (v: number) => void>();
    const fan = new FanOut<string, number>((key, emit) => {
      opened.push(key);
      emits.set(key, emit.value);
      return { close: () => closed.push(key) };
    });
    const evens = fan.subscribe('a', { mode: 'queue', select: (v) => v % 2 === 0 });
    const all = fan.subscribe('a', { mode: 'queue' });
    const other = fan.subscribe('b', { mode: 'queue' });
    expect(opened).toEqual(['a', 'b']);
    emits.get('a')!(1);
    emits.get('a')!(2);
    expect((await evens.next()).value).toBe(2);
    expect([(await all.next()).value, (await all.next()).value]).toEqual([1, 2]);
    await evens.return();
    expect(closed).toEqual([]);
    await all.return();
    expect(closed).toEqual(['a']);
    expect(fan.size).toBe(1);
    await other.return();
    expect(fan.size).toBe(0);
  });

  test('replayLast: a late subscriber gets the current state at once; an upstream that ends ends its subscribers', async () => {
    let end: (e?: unknown) => void = () => undefined;
    let value: (v: string) => void = () => undefined;
    const fan = new FanOut<string, string>((_k, emit) => {
      end = emit.end;
      value = emit.value;
      return { close: () => undefined };
    }, { replayLast: true });
    const first = fan.subscribe('d', { mode: 'latest' });
    value('online');
    const late = fan.subscribe('d', { mode: 'latest' });
    expect((await late.next()).value).toBe('online');
    end(new Error('refused'));
    // An error ends it at once: what was not read yet is not worth reading.
    await expect(first.next()).rejects.toThrow('refused');
    expect(fan.size).toBe(0);
  });
});

describe('device events never carry the enrollment code', () => {
  test('whatever its case or depth; a body that still names it goes out empty', async () => {
    const { decodeEvent } = await import('../../../datasources/nureva/live.js');
    const at = Date.now();
    const event = (data: string, name = '/api/v1/audio/hardware') => decodeEvent('d', at, { event: name, data });
    const hardware = event(JSON.stringify({ deviceStatus: 'Ok', hardwareId: 'H', enrollmentCode: 'SECRET-1', nested: [{ EnrollmentCode: 'SECRET-2', enrollment_code: 'SECRET-3' }] }));
    expect(JSON.stringify(hardware)).not.toMatch(/SECRET/);
    expect(hardware.hardware).toMatchObject({ deviceStatus: 'Ok' });
    const smuggled = event(JSON.stringify({ note: '{"enrollmentCode":"SECRET-4"}' }), 'ledStateUpdated');
    expect(smuggled).toMatchObject({ data: null, hardware: null });
    expect(event('enrollmentCode=SECRET-5', 'usbConnection').data).toBeNull();
  });
});

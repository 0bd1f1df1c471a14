import { describe, expect, test } from '@jest/globals';
import { asError, settleAll } from '../../src/settle.js';

/** What settleAll replaces: Promise.allSettled, each outcome unwrapped to its value or its reason as an Error. */
async function reference<T>(items: ReadonlyArray<T | PromiseLike<T>>): Promise<Array<T | Error>> {
  const results = await Promise.allSettled(items);
  return results.map((r) => (r.status === 'fulfilled' ? r.value : asError(r.reason)));
}

/** A small deterministic generator, so a failing shape can be run again. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('settleAll', () => {
  test('keeps the order asked, whatever order the items settle in', async () => {
    const slow = tick(20).then(() => 'slow');
    const fast = Promise.resolve('fast');
    const failing = tick(5).then(() => {
      throw new Error('boom');
    });
    const out = await settleAll<string>([slow, fast, failing, 'plain']);
    expect(out.slice(0, 2)).toEqual(['slow', 'fast']);
    expect(out[2]).toBeInstanceOf(Error);
    expect((out[2] as Error).message).toBe('boom');
    expect(out[3]).toBe('plain');
  });

  test('a rejection is that item\'s Error: the same object, or one made from a reason that is not an Error', async () => {
    const error = new Error('kept');
    const out = await settleAll([Promise.reject(error), Promise.reject('text'), Promise.reject(undefined), Promise.resolve(null)]);
    expect(out[0]).toBe(error);
    expect(out[1]).toEqual(new Error('text'));
    expect(out[2]).toEqual(new Error('undefined'));
    expect(out[3]).toBeNull();
  });

  test('a reason that cannot be made text fails the whole list instead of leaving it unsettled', async () => {
    const unprintable = Object.create(null) as object;
    await expect(settleAll([Promise.resolve(1), Promise.reject(unprintable)])).rejects.toBeInstanceOf(TypeError);
  });

  test('an empty list settles at once, as an empty list', async () => {
    await expect(settleAll([])).resolves.toEqual([]);
  });

  test('answers as Promise.allSettled, unwrapped, over 500 random shapes', async () => {
    for (let seed = 1; seed <= 500; seed++) {
      const next = random(seed);
      const n = Math.floor(next() * 12);
      // Each item built twice, one for each side, so neither sees the other's settled promise.
      const plan = Array.from({ length: n }, (_, i) => ({ kind: Math.floor(next() * 5), delay: Math.floor(next() * 3), value: i }));
      const build = () =>
        plan.map(({ kind, delay, value }) => {
          if (kind === 0) return value;
          if (kind === 1) return Promise.resolve(value);
          if (kind === 2) return tick(delay).then(() => value);
          if (kind === 3) return tick(delay).then(() => Promise.reject(new Error(`e${value}`)));
          return Promise.reject(kind === 4 && delay === 0 ? `reason ${value}` : new Error(`r${value}`));
        });
      const [ours, theirs] = await Promise.all([settleAll<number>(build()), reference<number>(build())]);
      expect(ours).toEqual(theirs);
    }
  });
});

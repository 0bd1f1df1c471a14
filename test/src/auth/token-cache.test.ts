import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { SignJWT } from 'jose';
import { Metrics } from '../../../src/metrics.js';
import { renewalTime, TokenCache, withTokenRetry, type TokenGrant } from '../../../src/auth/token-cache.js';

const hmacKey = Buffer.alloc(32, 3);

function newCache(metrics?: Metrics) {
  return new TokenCache({ max: 100, hmacKey, metrics });
}

async function jwtExpiringIn(seconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now).setExpirationTime(now + seconds).sign(new Uint8Array(32));
}

afterEach(() => {
  jest.useRealTimers();
});

describe('token cache', () => {
  test('50 concurrent misses make exactly 1 login, and all get its token', async () => {
    const metrics = new Metrics();
    const cache = newCache(metrics);
    let logins = 0;
    const login = async (): Promise<TokenGrant> => {
      logins++;
      await new Promise((r) => setTimeout(r, 20));
      return { token: `token-${logins}` };
    };
    const key = cache.key('PLATFORM', 'https://api.example', 'svc', 'pw');
    const got = await Promise.all(Array.from({ length: 50 }, () => cache.get('PLATFORM', key, login)));
    expect(logins).toBe(1);
    expect(new Set(got.map((e) => e.token))).toEqual(new Set(['token-1']));
    const events = await metrics.tokenCache.get();
    expect(events.values.find((v) => v.labels.event === 'miss')?.value).toBe(1);
    expect(events.values.find((v) => v.labels.event === 'hit')?.value).toBe(49);
  });

  test('a JWT is renewed before it expires: when less than min(60 s, a tenth of its life) remains', async () => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const cache = newCache();
    let logins = 0;
    const login = async (): Promise<TokenGrant> => {
      logins++;
      const token = await jwtExpiringIn(300); // 5 minutes: margin = min(60 s, 30 s) = 30 s
      const { decodeJwt } = await import('jose');
      const c = decodeJwt(token);
      return { token, expiresAt: c.exp! * 1000, issuedAt: c.iat! * 1000 };
    };
    const key = cache.key('PLATFORM', 'u', 'p');
    const first = await cache.get('PLATFORM', key, login);
    expect(first.renewAt).toBe(first.expiresAt! - 30_000);
    jest.advanceTimersByTime(269_000); // 31 s left
    expect((await cache.get('PLATFORM', key, login)).token).toBe(first.token);
    expect(logins).toBe(1);
    jest.advanceTimersByTime(2_000); // 29 s left: inside the margin, before expiry
    const renewed = await cache.get('PLATFORM', key, login);
    expect(logins).toBe(2);
    expect(renewed.token).not.toBe(first.token);
    expect(Date.now()).toBeLessThan(first.expiresAt!);
  });

  test('long-lived tokens keep a 60 s margin; unknown lifetimes use the default TTL', () => {
    expect(renewalTime(0, 3_600_000)).toBe(3_540_000);
    expect(renewalTime(0, 100_000)).toBe(90_000);
  });

  test('a 401 makes exactly one re-login, and the retry uses the new token', async () => {
    const cache = newCache();
    let logins = 0;
    const login = async (): Promise<TokenGrant> => ({ token: `t${++logins}` });
    const key = cache.key('NEXUDUS', 'a@b.c', 'pw');
    const seen: string[] = [];
    const result = await withTokenRetry(
      cache,
      'NEXUDUS',
      key,
      login,
      async (token) => {
        const t = await token();
        seen.push(t);
        return t === 't1' ? 401 : 200;
      },
      (status) => status === 401,
    );
    expect(result).toBe(200);
    expect(seen).toEqual(['t1', 't2']);
    expect(logins).toBe(2);
  });

  test('a second 401 is not retried again', async () => {
    const cache = newCache();
    let logins = 0;
    let sends = 0;
    const result = await withTokenRetry(
      cache,
      'NUREVA',
      cache.key('NUREVA', 'x'),
      async () => ({ token: `t${++logins}` }),
      async (token) => {
        await token();
        sends++;
        return 401;
      },
      (s) => s === 401,
    );
    expect(result).toBe(401);
    expect(sends).toBe(2);
    expect(logins).toBe(2);
  });

  test('a rejected token is dropped only if the entry still holds it', async () => {
    const cache = newCache();
    const key = cache.key('PLATFORM', 'k');
    let n = 0;
    const login = async () => ({ token: `t${++n}` });
    await cache.get('PLATFORM', key, login);
    expect(cache.invalidate('PLATFORM', key, 't1')).toBe(true);
    await cache.get('PLATFORM', key, login); // t2 now
    // A slow caller that had t1 reports it late: t2 must survive.
    expect(cache.invalidate('PLATFORM', key, 't1')).toBe(false);
    expect(cache.peek(key)?.token).toBe('t2');
  });

  test('cache keys are HMACs: no credential part appears in them', () => {
    const cache = newCache();
    const parts = ['admin@coworking.example', 'hunter2-password', 'https://spaces.nexudus.com'];
    const key = cache.key('NEXUDUS', ...parts);
    for (const p of parts) expect(key).not.toContain(p);
    expect(key).toMatch(/^nexudus:[A-Za-z0-9_-]{43}$/);
    // Every part counts, and parts do not run into each other.
    expect(cache.key('NEXUDUS', 'ab', 'c')).not.toBe(cache.key('NEXUDUS', 'a', 'bc'));
    expect(new TokenCache({ max: 1, hmacKey: Buffer.alloc(32, 9) }).key('NEXUDUS', ...parts)).not.toBe(key);
  });

  test('a failed login is not cached: the next caller logs in again', async () => {
    const cache = newCache();
    const key = cache.key('PLATFORM', 'z');
    let n = 0;
    const login = async () => {
      if (++n === 1) throw new Error('vendor down');
      return { token: 'ok' };
    };
    await expect(cache.get('PLATFORM', key, login)).rejects.toThrow('vendor down');
    expect((await cache.get('PLATFORM', key, login)).token).toBe('ok');
  });

  test('the cache is bounded', async () => {
    const cache = new TokenCache({ max: 3, hmacKey });
    for (let i = 0; i < 10; i++) await cache.get('PLATFORM', cache.key('PLATFORM', String(i)), async () => ({ token: String(i) }));
    expect(cache.size).toBe(3);
  });
});

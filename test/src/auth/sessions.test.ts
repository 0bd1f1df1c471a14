import { describe, expect, test } from '@jest/globals';
import { SignJWT } from 'jose';
import { deriveKeys, Sealer } from '../../../src/auth/keys.js';
import { MemorySessionStore } from '../../../src/auth/memory-session-store.js';
import { SessionManager, type StoredLogin } from '../../../src/auth/sessions.js';

const keys = deriveKeys('unit-test-secret-0123456789abcdefghijkl');
const login: StoredLogin = { vendor: 'PLATFORM', slot: 'PLATFORM', subject: 'ada@example.com' };

function manager(clock = { t: Date.UTC(2026, 0, 1) }) {
  const now = () => clock.t;
  return { clock, sessions: new SessionManager(keys.sessionSigning, new MemorySessionStore({ max: 1000, now }), 60_000, now) };
}

describe('session tokens', () => {
  test('a token names its session and reveals no vendor secret', async () => {
    const { sessions } = manager();
    const { token, session } = await sessions.create([{ ...login, sealed: new Sealer(keys.sealing).sealJson({ clientToken: 'vendor-secret-token' }) }]);
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(payload).sort()).toEqual(['exp', 'iat', 'iss', 'jti']);
    expect(token).not.toContain('vendor-secret-token');
    expect((await sessions.resolve(token))?.id).toBe(session.id);
  });

  test('a tampered token is refused', async () => {
    const { sessions } = manager();
    const { token } = await sessions.create([login]);
    const [h, p, s] = token.split('.');
    const other = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), jti: 'someone-else' })).toString('base64url');
    expect(await sessions.resolve(`${h}.${other}.${s}`)).toBeUndefined();
    expect(await sessions.resolve(`${h}.${p}.${s!.slice(0, -2)}AA`)).toBeUndefined();
    expect(await sessions.resolve('not-a-token')).toBeUndefined();
    // Signed with another key, or with alg none: refused.
    const forged = await new SignJWT({ jti: 'x' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('switchboard').setExpirationTime('1h').sign(new Uint8Array(32));
    expect(await sessions.resolve(forged)).toBeUndefined();
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    expect(await sessions.resolve(none)).toBeUndefined();
  });

  test('an expired token is refused', async () => {
    const { sessions, clock } = manager();
    const { token } = await sessions.create([login]);
    clock.t += 59_000;
    expect(await sessions.resolve(token)).toBeDefined();
    clock.t += 2_000;
    expect(await sessions.resolve(token)).toBeUndefined();
  });

  test('revocation: a revoked session is gone for every token naming it', async () => {
    const { sessions } = manager();
    const { token, session } = await sessions.create([login]);
    await sessions.revoke(session);
    expect(await sessions.resolve(token)).toBeUndefined();
  });

  test('a login attaches to the current session, replacing the same slot only', async () => {
    const { sessions } = manager();
    const first = await sessions.create([login]);
    const attached = await sessions.attach(first, { vendor: 'NEXUDUS', slot: 'NEXUDUS', subject: 'm@x' });
    expect(attached.token).toBe(first.token);
    const again = await sessions.attach(attached, { vendor: 'NEXUDUS', slot: 'NEXUDUS', subject: 'n@x' });
    const stored = await sessions.resolve(again.token);
    expect(stored?.logins.map((l) => l.subject)).toEqual(['ada@example.com', 'n@x']);
    const fresh = await sessions.attach(undefined, login);
    expect(fresh.session.id).not.toBe(first.session.id);
  });

  test('sealed values open only with the key, and tampering is detected', () => {
    const sealer = new Sealer(keys.sealing);
    const sealed = sealer.sealJson({ password: 'p@ss' });
    expect(sealed).not.toContain('p@ss');
    expect(sealer.openJson(sealed)).toEqual({ password: 'p@ss' });
    expect(new Sealer(Buffer.alloc(32, 1)).open(sealed)).toBeUndefined();
    const flipped = Buffer.from(sealed, 'base64url');
    flipped[flipped.length - 1]! ^= 1;
    expect(sealer.open(flipped.toString('base64url'))).toBeUndefined();
  });
});

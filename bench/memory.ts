import { loadConfig } from '../src/config/load.js';
import { buildServices, createGatewayLogger } from '../src/app/services.js';
import { VENDORS } from '../src/vendors/registry.js';
import type { StoredLogin } from '../src/auth/sessions.js';

/**
 * Workload M: what live sessions and cached vendor tokens cost in the in-process stores. The real
 * services (session manager, memory store, token cache, sealer) of a gateway configured as by
 * default; each session is started by a client address of its own (so the per-client bookkeeping
 * counts too), holds one Nureva login (sealed password, token-cache key) and has been used once
 * (its token verified). Heap and RSS after full GCs at 0, 10k and 100k sessions, then with 10k
 * vendor tokens cached. Prints one JSON line. Run with --expose-gc.
 */

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function settle(): { heapMb: number; rssMb: number; heap: number; rss: number } {
  for (let i = 0; i < 4; i++) gc!();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: heapUsed, rss, heapMb: Math.round(heapUsed / 1048576 * 10) / 10, rssMb: Math.round(rss / 1048576 * 10) / 10 };
}

const config = loadConfig({ SESSION_SECRET: 'bench-session-secret-0123456789abcdef', DEMO: 'false', LOG_LEVEL: 'warn' });
const services = buildServices({ config, modules: VENDORS, logger: createGatewayLogger(config, VENDORS) });
const { sessions, tokens, sealer } = services;

function login(i: number): StoredLogin {
  const deviceId = `room-${i % 50}`;
  const password = `pw-${i}`;
  return {
    vendor: 'NUREVA',
    slot: `nureva:${deviceId}`,
    subject: `general@${deviceId}`,
    profile: { deviceId, account: 'GENERAL' },
    tokenKey: tokens.key('NUREVA', deviceId, 'https://10.0.0.1', 'GENERAL', password),
    sealed: sealer.sealJson({ password }),
  };
}

const client = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const kept: string[] = [];

async function grow(to: number): Promise<void> {
  for (let i = kept.length; i < to; i++) {
    const { token } = await sessions.create([login(i)], client(i));
    // Used once: the verified-token cache holds it, as it would after the session's first request.
    if (!(await sessions.resolve(token))) throw new Error('a new session did not resolve');
    kept.push(token);
  }
  // The tokens are the clients', not the gateway's: only the gateway's own memory is measured.
  kept.length = to;
}

const zero = settle();
await grow(10_000);
const tenK = settle();
await grow(100_000);
const hundredK = settle();
if (sessions.store && 'size' in sessions.store && (sessions.store as { size: number }).size !== 100_000) throw new Error('the store does not hold 100,000 sessions');

// Vendor tokens: 10,000 JWT-sized tokens (about 300 characters) under credential keys.
for (let i = 0; i < 10_000; i++) {
  tokens.put('PLATFORM', tokens.key('PLATFORM', `user-${i}@example.com`, `password-${i}`), { token: `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: `user-${i}`, exp: 4102444800, iat: 1700000000, scope: 'client' })).toString('base64url')}.${'s'.repeat(43)}${i}`, expiresAt: 4102444800000 });
}
const tokensOn = settle();

const perSession = (hundredK.heap - zero.heap) / 100_000;
process.stdout.write(
  `${JSON.stringify({
    sessions: { 0: { heapMb: zero.heapMb, rssMb: zero.rssMb }, 10000: { heapMb: tenK.heapMb, rssMb: tenK.rssMb }, 100000: { heapMb: hundredK.heapMb, rssMb: hundredK.rssMb } },
    bytesPerSession: { heapAt100k: Math.round(perSession), heapAt10k: Math.round((tenK.heap - zero.heap) / 10_000), rssAt100k: Math.round((hundredK.rss - zero.rss) / 100_000) },
    bytesPerVendorToken: { heap: Math.round((tokensOn.heap - hundredK.heap) / 10_000), rss: Math.round((tokensOn.rss - hundredK.rss) / 10_000) },
  })}\n`,
);
process.exit(0);

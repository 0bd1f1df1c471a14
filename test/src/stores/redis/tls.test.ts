import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../../src/config/load.js';
import { createLogger, SecretRegistry } from '../../../../src/logger.js';
import { openConnection } from '../../../../src/stores/redis/connection.js';
import { createRedisStores } from '../../../../src/stores/redis/stores.js';
import { LogCollector } from '../../../helpers/gateway.js';
import { freePorts } from '../../../helpers/redis.js';

/** TLS with a private CA and a password: a real TLS-only server, and what each form hands ioredis. */

const PASSWORD = 'tls-redis-password-123';

describe('Redis over TLS with a password', () => {
  let dir: string;
  let server: ChildProcess;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-redis-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.crt');
    [port] = (await freePorts(1)) as [number];
    server = spawn(
      'redis-server',
      ['--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key'), '--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no', '--requirepass', PASSWORD, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server (TLS) did not start: ${out}`)), 10_000);
      server.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }, 30_000);
  afterAll(async () => {
    server?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('rediss:// with REDIS_PASSWORD and REDIS_TLS_CA: the stores work, the password never in a log line', async () => {
    const config = loadConfig({ REDIS_URL: `rediss://127.0.0.1:${port}`, REDIS_PASSWORD: PASSWORD, REDIS_TLS_CA: join(dir, 'ca.crt') }).redis!;
    const logs = new LogCollector();
    const secrets = new SecretRegistry();
    secrets.add(PASSWORD);
    const stores = createRedisStores(config, { logger: createLogger({ level: 'debug', secrets, destination: logs }), replicas: 1 });
    try {
      expect(await stores.connected(5_000)).toBe(true);
      await stores.sessions.create({ id: 'tls', createdAt: Date.now(), expiresAt: Date.now() + 60_000, logins: [] });
      expect(await stores.sessions.get('tls')).toMatchObject({ id: 'tls' });
    } finally {
      await stores.close();
    }
    expect(logs.text).not.toContain(PASSWORD);
  });

  test('without the CA, or without the password, it does not connect', async () => {
    const logger = createLogger({ level: 'silent', secrets: new SecretRegistry(), destination: new LogCollector() });
    for (const env of [{ REDIS_URL: `rediss://127.0.0.1:${port}`, REDIS_PASSWORD: PASSWORD }, { REDIS_URL: `rediss://127.0.0.1:${port}`, REDIS_TLS_CA: join(dir, 'ca.crt') }]) {
      const stores = createRedisStores(loadConfig(env).redis!, { logger, replicas: 1 });
      try {
        expect(await stores.connected(2_000)).toBe(false);
      } finally {
        await stores.close();
      }
    }
  });

  test('a Cluster and Sentinels get TLS and the password for every node (and the Sentinels theirs)', async () => {
    const ca = join(dir, 'ca.crt');
    const cluster = openConnection(loadConfig({ REDIS_CLUSTER_NODES: 'rediss://127.0.0.1:1,rediss://127.0.0.1:2', REDIS_PASSWORD: PASSWORD, REDIS_TLS_CA: ca }).redis!);
    try {
      // Seeds' rediss:// alone would not turn TLS on in ioredis; the node options carry it to nodes found later.
      expect(cluster.cluster!.options.redisOptions).toMatchObject({ password: PASSWORD, tls: { ca: expect.stringContaining('BEGIN CERTIFICATE') } });
    } finally {
      await cluster.close();
    }
    const sentinel = openConnection(loadConfig({ REDIS_SENTINELS: '127.0.0.1:1', REDIS_SENTINEL_MASTER: 'm', REDIS_PASSWORD: PASSWORD, REDIS_SENTINEL_PASSWORD: 'sentinel-pw', REDIS_TLS: 'true', REDIS_TLS_CA: ca }).redis!);
    try {
      // TLS to the primary needs enableTLSForSentinelMode; to the Sentinels, sentinelTLS.
      expect(sentinel.client.options).toMatchObject({ password: PASSWORD, sentinelPassword: 'sentinel-pw', enableTLSForSentinelMode: true, tls: { ca: expect.any(String) }, sentinelTLS: { ca: expect.any(String) } });
    } finally {
      await sentinel.close();
    }
  });
});

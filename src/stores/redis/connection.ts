import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../../config/types.js';
import { defineCommands, type Client } from './client.js';

/**
 * One connection to Redis in the form configuration names: a server, a Cluster or a primary found
 * through Sentinels. Commands fail at once while no connection is up (nothing queues behind a dead
 * Redis); a Cluster is addressed as one client, its scripts' keys sharing a hash tag (see stores).
 */
export interface Connection {
  client: Client;
  /** The Cluster, to reach each primary (its identity); undefined for the other forms. */
  cluster?: Cluster;
  close(): Promise<void>;
}

/** What every connection to a data node shares, in every form. */
function nodeOptions(config: RedisConfig): RedisOptions {
  return {
    password: config.password,
    username: config.username,
    ...(config.tls ? { tls: config.ca ? { ca: config.ca } : {} } : {}),
    // Fail at once while disconnected instead of queueing: no request waits on a dead Redis.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // One slow answer marks Redis down (Breaker), so a request waits this long at most once.
    commandTimeout: 1000,
    connectTimeout: 2000,
  };
}

export function openConnection(config: RedisConfig): Connection {
  const node = nodeOptions(config);
  if (config.mode === 'cluster') {
    const options: ClusterOptions = {
      keyPrefix: 'sb:',
      enableOfflineQueue: false,
      redisOptions: node,
      // Reads from primaries only: a replica may not yet know of a logout.
      scaleReads: 'master',
      // Fail fast while a slot has no primary (the Breaker marks Redis down and probes), rather than
      // hold each command through ioredis' own retries.
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      retryDelayOnTryAgain: 0,
      maxRedirections: 3,
      clusterRetryStrategy: (times) => Math.min(100 + times * 100, 2000),
    };
    const cluster = new Cluster(config.nodes, options);
    return { client: defineCommands(cluster as unknown as Redis), cluster, close: () => quit(cluster) };
  }
  if (config.mode === 'sentinel') {
    const redis = new Redis({
      ...node,
      keyPrefix: 'sb:',
      sentinels: config.sentinels,
      name: config.master,
      role: 'master',
      sentinelPassword: config.sentinelPassword,
      ...(config.tls ? { enableTLSForSentinelMode: true, sentinelTLS: config.ca ? { ca: config.ca } : {} } : {}),
      // Told of a failover by the Sentinels at once (+switch-master), not when the old primary's
      // socket finally closes: without it, writes kept going to a demoted primary for ~10 s.
      failoverDetector: true,
      disconnectTimeout: 200,
      retryStrategy: () => 100,
      sentinelRetryStrategy: (times) => Math.min(times * 100, 1000),
    });
    // ioredis can end a Sentinel client for good when a failover notice meets a reconnect in
    // progress (redis/ioredis#1683): start it again unless we are the ones closing.
    let closing = false;
    let restart: NodeJS.Timeout | undefined;
    redis.on('end', () => {
      if (closing) return;
      clearTimeout(restart);
      restart = setTimeout(() => void (closing ? undefined : redis.connect().catch(() => undefined)), 100).unref();
    });
    return {
      client: defineCommands(redis),
      close: () => {
        closing = true;
        clearTimeout(restart);
        return quit(redis);
      },
    };
  }
  const redis = new Redis(config.url, {
    ...node,
    keyPrefix: 'sb:',
    // Reconnect forever, a little slower each time, at most every 2 s.
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  return { client: defineCommands(redis), close: () => quit(redis) };
}

async function quit(redis: Redis | Cluster): Promise<void> {
  await redis.quit().catch(() => undefined);
  // Also after a clean QUIT: only disconnect() stops a Sentinel client's failover detector, whose
  // own connections to the Sentinels would otherwise reconnect forever.
  redis.disconnect();
}

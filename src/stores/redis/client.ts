import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { packageRoot } from '../../config/package.js';

/** The Lua scripts the stores run (src/stores/redis/scripts/), read once. */
function script(name: string): string {
  return readFileSync(resolve(packageRoot(), 'src/stores/redis/scripts', name), 'utf8');
}

export interface Commands {
  sbCreateSession(key: string, expireAt: number, ...fields: string[]): Promise<number>;
  sbPutLogin(key: string, field: string, value: string): Promise<number>;
  sbReserve(...args: Array<string | number>): Promise<[number, number]>;
  sbGeneration(born: string, lost: string, seen: string, id: string): Promise<[string, number]>;
}

/**
 * A connection with the stores' scripts. A Cluster is typed as a server: the stores use only what
 * both have, and every script's keys share one hash tag, so each runs on one node.
 */
export type Client = Redis & Commands;

/** Teaches a connection the stores' scripts, as commands. */
export function defineCommands(redis: Redis): Client {
  redis.defineCommand('sbCreateSession', { numberOfKeys: 1, lua: script('create-session.lua') });
  redis.defineCommand('sbPutLogin', { numberOfKeys: 1, lua: script('put-login.lua') });
  redis.defineCommand('sbReserve', { lua: script('reserve.lua') });
  redis.defineCommand('sbGeneration', { numberOfKeys: 2, lua: script('generation.lua') });
  return redis as Client;
}

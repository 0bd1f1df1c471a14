import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { packageRoot } from '../../config/package.js';

/** The Lua scripts the stores run (src/stores/redis/scripts/), read once. */
function script(name: string): string {
  return readFileSync(resolve(packageRoot(), 'src/stores/redis/scripts', name), 'utf8');
}

export interface Commands {
  sbPutLogin(key: string, field: string, value: string): Promise<number>;
  sbReserve(...args: Array<string | number>): Promise<[number, number]>;
  sbGeneration(born: string, lost: string, seen: string, id: string): Promise<[string, number]>;
}
export type Client = Redis & Commands;

/** Teaches a connection the stores' scripts, as commands. */
export function defineCommands(redis: Redis): Client {
  redis.defineCommand('sbPutLogin', { numberOfKeys: 1, lua: script('put-login.lua') });
  redis.defineCommand('sbReserve', { lua: script('reserve.lua') });
  redis.defineCommand('sbGeneration', { numberOfKeys: 2, lua: script('generation.lua') });
  return redis as Client;
}

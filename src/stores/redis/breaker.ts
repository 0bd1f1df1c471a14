import { randomUUID } from 'node:crypto';
import { ReplyError } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { Client } from './client.js';

/** How often a Redis marked down is asked whether it is back. */
const PROBE_MS = 500;

/** A call refused without asking Redis, because Redis is marked down. */
export class RedisDownError extends Error {
  constructor() {
    super('Redis is marked down');
  }
}

/**
 * Marks Redis down on the first command that times out or finds no connection, and whenever the
 * connection drops; while it is down every call fails at once. A frozen server (a paused VM,
 * SIGSTOP) keeps its socket open, so the client still says "ready" and would let each command
 * wait its full timeout: a login makes several calls in a row and would wait for each. A
 * background ping marks Redis up again, once it also learnt whether Redis lost its data.
 */
export class Breaker {
  up = false;
  /** Times Redis was marked down. */
  outages = 0;
  /** When the data Redis holds began, if it lost earlier data (this process' clock); else 0. */
  lostAt = 0;
  private everUp = false;
  private born = '';
  private timer?: NodeJS.Timeout;
  private probing = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly redis: Client,
    private readonly logger: Logger,
  ) {
    redis.on('ready', () => void this.probe());
    redis.on('error', (error: Error & { code?: string }) => this.trip(error.code));
    redis.on('close', () => this.trip('CLOSED'));
    this.timer = setInterval(() => void this.probe(), PROBE_MS).unref();
  }

  async run<T>(op: () => Promise<T>): Promise<T> {
    if (!this.up) throw new RedisDownError();
    try {
      return await op();
    } catch (error) {
      // A reply error is Redis answering; anything else means it did not.
      if (!(error instanceof ReplyError)) this.trip((error as { code?: string }).code ?? (/timed out/i.test(String((error as Error).message)) ? 'TIMEOUT' : 'NO_CONNECTION'));
      throw error;
    }
  }

  /** Resolves true once Redis is up, or false after `ms`. */
  whenUp(ms: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        resolve(false);
      }, ms);
      this.waiters.add(done);
    });
  }

  close(): void {
    this.closed = true;
    this.up = false;
    clearInterval(this.timer);
  }

  private trip(errorCode: string | undefined): void {
    if (this.closed) return;
    if (this.up) {
      this.logger.warn({ errorCode }, "Redis is unreachable: sessions fail closed, budgets fall back to this replica's share");
      this.outages++;
    }
    this.up = false;
    this.timer ??= setInterval(() => void this.probe(), PROBE_MS).unref();
  }

  private async probe(): Promise<void> {
    if (this.up || this.probing || this.closed || this.redis.status !== 'ready') return;
    this.probing = true;
    try {
      const [born, lostAge] = await this.redis.sbGeneration('born', 'lost', this.born, randomUUID());
      this.born = born;
      if (lostAge >= 0) this.lostAt = Math.max(this.lostAt, Date.now() - lostAge);
      if (this.closed) return;
      if (this.everUp) this.logger.info('Redis is back: shared sessions, tokens and budgets resume');
      this.up = this.everUp = true;
      clearInterval(this.timer);
      this.timer = undefined;
      for (const done of this.waiters) done();
      this.waiters.clear();
    } catch {
      // Still away, or frozen (the call timed out): the next tick asks again.
    } finally {
      this.probing = false;
    }
  }
}

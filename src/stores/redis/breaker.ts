import { randomUUID } from 'node:crypto';
import { ReplyError, type Cluster, type Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { Client } from './client.js';

/** Answers that mean no primary can take the command now: Redis did not really answer. */
const NO_PRIMARY = /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING|READONLY|NOREPLICAS)\b/;

function noPrimary(error: unknown): boolean {
  if (!(error instanceof ReplyError)) return false;
  const { message, previousErrors } = error as Error & { previousErrors?: unknown[] };
  return NO_PRIMARY.test(message) || (previousErrors ?? []).some(noPrimary);
}

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
 *
 * Lost data is learnt two ways. The `born` key disappears with the data of a server that restarted
 * empty. And the primaries' identities (their run ids) change when a replica is promoted (Sentinel
 * failover, Cluster master change) or a primary restarts: Redis replicates asynchronously, so the
 * newest writes may be gone though `born` survived; budgets then count as possibly forgotten for
 * one window from now (lostAt), as after an empty restart.
 */
export class Breaker {
  up = false;
  /** Times Redis was marked down. */
  outages = 0;
  /** When the data Redis holds began, if it lost earlier data (this process' clock); else 0. */
  lostAt = 0;
  /** Since when Redis is marked down (this process' clock; from the start until it first answers). */
  downSince = Date.now();
  private everUp = false;
  private born = '';
  private timer?: NodeJS.Timeout;
  private probing = false;
  private closed = false;
  private readonly waiters = new Set<() => void>();
  /** The primaries' run ids, sorted, as last seen ('' before the first look). */
  /** INFO was refused (ACL): primary changes cannot be seen. */
  private infoRefused = false;
  private identity = '';
  private checking = false;

  constructor(
    private readonly redis: Client,
    private readonly logger: Logger,
    /** A Cluster's handle, to reach each primary. */
    private readonly cluster?: Cluster,
  ) {
    redis.on('ready', () => void this.probe());
    redis.on('error', (error: Error & { code?: string }) => this.trip(error.code));
    redis.on('close', () => this.trip('CLOSED'));
    if (cluster) {
      // One node failing leaves the Cluster "ready": its commands fail one by one. Mark it down,
      // and after every new slot map look whether a primary changed.
      cluster.on('node error', () => this.trip('NODE_ERROR'));
      cluster.on('refresh', () => void this.checkIdentity());
    }
    this.timer = setInterval(() => void this.probe(), PROBE_MS).unref();
  }

  async run<T>(op: () => Promise<T>): Promise<T> {
    if (!this.up) throw new RedisDownError();
    try {
      return await op();
    } catch (error) {
      // A reply error is Redis answering, unless it says no primary can take the command.
      if (!(error instanceof ReplyError) || noPrimary(error)) this.trip((error as { code?: string }).code ?? (/timed out/i.test(String((error as Error).message)) ? 'TIMEOUT' : 'NO_CONNECTION'));
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
      this.logger.warn({ errorCode }, "Redis is unreachable: sessions fail closed, budgets wait for it, then fall back to this replica's share");
      this.outages++;
      this.downSince = Date.now();
    }
    this.up = false;
    this.timer ??= setInterval(() => void this.probe(), PROBE_MS).unref();
  }

  private async probe(): Promise<void> {
    if (this.up || this.probing || this.closed || this.redis.status !== 'ready') return;
    this.probing = true;
    try {
      const [born, lostAge] = await this.redis.sbGeneration('{g}born', '{g}lost', this.born, randomUUID());
      this.born = born;
      if (lostAge >= 0) this.lostAt = Math.max(this.lostAt, Date.now() - lostAge);
      await this.lookAtPrimaries();
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

  /** After a new slot map (Cluster): whether a primary changed, while Redis is up. */
  private async checkIdentity(): Promise<void> {
    if (!this.up || this.checking || this.closed) return;
    this.checking = true;
    try {
      await this.lookAtPrimaries();
    } catch {
      this.trip('NO_PRIMARY');
    } finally {
      this.checking = false;
    }
  }

  /** Reads the primaries' run ids; a change since the last look means the newest writes may be lost. */
  private async lookAtPrimaries(): Promise<void> {
    const primaries: Redis[] = this.cluster ? this.cluster.nodes('master') : [this.redis];
    const ids = await Promise.all(primaries.map((node) => this.runIdOf(node)));
    const identity = ids.sort().join(',');
    if (this.identity !== '' && identity !== this.identity) {
      this.lostAt = Math.max(this.lostAt, Date.now());
      this.logger.warn('a Redis primary changed (failover or restart): its newest writes may be lost, so budgets keep to this replica\'s share for one window');
    }
    this.identity = identity;
  }

  /**
   * A primary's run id. A Redis user that may not run INFO (an ACL without @dangerous) leaves it
   * unknown: Redis is still usable, only a primary change can no longer be seen, so budgets are
   * treated as possibly forgotten once (as after a failover) and the operator is told once.
   */
  private async runIdOf(node: Redis): Promise<string> {
    try {
      return /run_id:(\w+)/.exec(await node.info('server'))?.[1] ?? '?';
    } catch (error) {
      if (!(error instanceof ReplyError) || noPrimary(error)) throw error;
      if (!this.infoRefused) {
        this.infoRefused = true;
        this.lostAt = Math.max(this.lostAt, Date.now());
        this.logger.warn({ errorCode: String((error as Error).message).split(' ')[0] }, 'Redis refused INFO to this user: a failover cannot be detected, so budgets keep to this replica\'s share for one window now; allow INFO (+info) to detect failovers');
      }
      return '?';
    }
  }
}

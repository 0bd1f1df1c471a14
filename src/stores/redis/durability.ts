import type { ChainableCommander } from 'ioredis';

/**
 * Writes a failover must not lose: after the write, on the same connection, WAIT until
 * `replicas` replicas hold it (at most `timeoutMs`). Redis replicates asynchronously; a primary
 * killed before its replica got a write loses it, and a promoted replica would forget a session,
 * a logout or a vendor-budget booking. While Redis is replicated, WAIT costs a round trip (about
 * 0.05 ms on a LAN); a short answer means no replica is there to be promoted, so for a few seconds
 * writes stop waiting (each would cost the whole timeout), and `onShort` hears of it.
 */
export class Durability {
  private skipUntil = 0;

  constructor(
    readonly replicas: number,
    private readonly timeoutMs: number,
    private readonly onShort: (acked: number) => void = () => undefined,
    private readonly pauseMs = 5_000,
  ) {}

  /** Whether the next write waits for replicas. */
  get waiting(): boolean {
    return this.replicas > 0 && Date.now() >= this.skipUntil;
  }

  /** Sends a pipeline of one key's commands (and WAIT); their answers, or the first error. */
  async exec(pipeline: ChainableCommander): Promise<unknown[]> {
    const waiting = this.waiting;
    if (waiting) pipeline.wait(this.replicas, this.timeoutMs);
    const results = (await pipeline.exec()) ?? [];
    // WAIT's own answer: an error there (a managed Redis or an ACL that refuses WAIT) does not undo
    // the write before it, so it counts as no replica having acknowledged it.
    const waited = waiting ? results.pop() : undefined;
    for (const [error] of results) if (error) throw error;
    const answers = results.map(([, value]) => value);
    if (waited) {
      const acked = waited[0] ? 0 : Number(waited[1]);
      if (acked < this.replicas) {
        this.skipUntil = Date.now() + this.pauseMs;
        this.onShort(acked);
      }
    }
    return answers;
  }
}

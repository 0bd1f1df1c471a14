import DataLoader from 'dataloader';
import { BadUserInputError, UnauthenticatedError } from '../../src/errors.js';
import { asError, settleAll } from '../../src/settle.js';
import type { VendorRequest } from '../../src/vendors/module.js';
import { VENDOR, type NuveqClient } from './client.js';
import type { NuveqUserRecord } from './user.js';

const USER_ID = /^\d{1,15}$/;

/** Per-request face: one DataLoader, so every user is fetched once per request. */
export class NuveqDataSource {
  private readonly loader: DataLoader<string, NuveqUserRecord | null>;

  constructor(
    private readonly client: NuveqClient,
    private readonly ctx: VendorRequest,
  ) {
    this.loader = new DataLoader((ids) => {
      ctx.services.metrics.batch(VENDOR, 'user');
      // Each batch gets the (adaptive) limit of calls in flight; one id needs no gate.
      const gate = ids.length > 1 ? this.client.concurrency.batch() : undefined;
      // fetchUser never throws: a call that fails before it is under way rejects (Coalescer.run).
      const settled = (results: Array<NuveqUserRecord | null | Error>) => {
        // A failed answer is never kept: asking again (in this request) asks Nuveq again.
        results.forEach((r, i) => r instanceof Error && this.loader.clear(ids[i]!));
        return results;
      };
      // One id (the hot query's case) is one reaction, not a settling of a list of one.
      if (ids.length === 1) return this.client.fetchUser(ids[0]!, gate, ctx.scope).then((r) => settled([r]), (e: unknown) => settled([asError(e)]));
      return settleAll(ids.map((id) => this.client.fetchUser(id, gate, ctx.scope))).then(settled);
    });
  }

  /**
   * `then()` once the caller may read Nuveq users (a session, unless anonymous reads are allowed):
   * the work goes in the same reaction as the session check, not one after it.
   */
  private authorized<T>(then: () => T | Promise<T>): Promise<T> {
    if (this.client.config.allowAnonymous) return Promise.resolve().then(then);
    return this.ctx.session().then((session) => {
      if (!session) throw new UnauthenticatedError(this.ctx.token ? 'The session token is invalid, expired or revoked' : 'Nuveq users need a session: log in first', { vendor: VENDOR });
      return then();
    });
  }

  private static normalize(userId: string): string {
    const id = userId.trim();
    if (!USER_ID.test(id)) throw new BadUserInputError(`userId: "${id.slice(0, 32)}" is not a Nuveq user id (digits only)`, 'userId', { vendor: VENDOR });
    return String(Number(id));
  }

  user(userId: string): Promise<NuveqUserRecord | null> {
    let id: string;
    try {
      id = NuveqDataSource.normalize(userId);
    } catch (error) {
      return Promise.reject(error);
    }
    // The session check and the load in one reaction: this is the whole of the hot query's resolver.
    return this.authorized(() => this.loader.load(id));
  }

  /**
   * In the order asked: each user, null where unknown, or the Error of an id whose call failed (an
   * error at its own index, not for the whole list). Each distinct id is loaded and settled once
   * (DataLoader batches them into one round); a repeated id takes the same answer, so the list
   * field gets settled items and settles nothing itself.
   */
  users(userIds: readonly string[]): Promise<Array<NuveqUserRecord | null | Error>> {
    let ids: string[];
    try {
      ids = userIds.map(NuveqDataSource.normalize);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.authorized(() => {
      const distinct = [...new Set(ids)];
      return settleAll(distinct.map((id) => this.loader.load(id))).then((answers) => {
        if (distinct.length === ids.length) return answers;
        const byId = new Map(distinct.map((id, i) => [id, answers[i] as NuveqUserRecord | null | Error]));
        return ids.map((id) => byId.get(id)!);
      });
    });
  }
}

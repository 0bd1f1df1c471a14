import DataLoader from 'dataloader';
import { BadUserInputError, UnauthenticatedError } from '../../src/errors.js';
import { asError, settleAll } from '../../src/settle.js';
import type { VendorRequest } from '../../src/vendors/module.js';
import { VENDOR, type NuveqClient } from './client.js';
import type { NuveqUserRecord } from './models.js';

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

  /** Resolves when the caller may read Nuveq users (a session, unless anonymous reads are allowed). */
  private authorize(): Promise<void> {
    if (this.client.config.allowAnonymous) return Promise.resolve();
    return this.ctx.session().then((session) => {
      if (!session) throw new UnauthenticatedError(this.ctx.token ? 'The session token is invalid, expired or revoked' : 'Nuveq users need a session: log in first', { vendor: VENDOR });
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
    // One `then`, not two awaits: this is the whole of the hot query's resolver.
    return this.authorize().then(() => this.loader.load(id));
  }

  /**
   * In the order asked, null where unknown. One promise per id (DataLoader batches them into one
   * round), so a user that fails is an error at its own index, not for the whole list.
   */
  async users(userIds: readonly string[]): Promise<Array<Promise<NuveqUserRecord | null>>> {
    const ids = userIds.map(NuveqDataSource.normalize);
    await this.authorize();
    return ids.map((id) => this.loader.load(id));
  }
}

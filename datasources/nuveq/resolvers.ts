import type { Resolvers } from '../../src/__generated__/resolvers-types.js';
import type { NuveqUserRecord } from './user.js';

export const nuveqResolvers: Resolvers = {
  Query: {
    nuveqUser: (_parent, { userId }, ctx) => ctx.vendor('nuveq').user(userId),
    // Items come settled: null stays null (items are nullable) and an Error item is that item's
    // error, in graphql-js and graphql-jit alike. Codegen's type cannot say "or an Error".
    nuveqUsers: (_parent, { userIds }, ctx) => ctx.vendor('nuveq').users(userIds) as Promise<NuveqUserRecord[]>,
  },
  // Its fields are the record's getters (user.ts), read as properties.
  NuveqUser: {
    // Federation: representations go through the same per-request DataLoader, so N of them
    // make one batch, not N separate lookups.
    __resolveReference: (ref, ctx) => {
      const id = String(ref.id);
      return id.startsWith('nuveq:') ? ctx.vendor('nuveq').user(id.slice('nuveq:'.length)) : null;
    },
  },
};

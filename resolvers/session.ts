import type { Resolvers, Vendor } from '../src/__generated__/resolvers-types.js';
import { isoFromEpoch } from '../src/datetime.js';

export const sessionResolvers: Resolvers = {
  Query: {
    session: async (_parent, _args, ctx) => (await ctx.session()) ?? null,
  },
  Mutation: {
    logout: async (_parent, _args, ctx) => {
      const session = await ctx.session();
      if (!session) return false;
      await ctx.services.sessions.revoke(session);
      return true;
    },
  },
  SessionPayload: {
    token: (p) => p.token,
    session: (p) => p.session,
  },
  Session: {
    id: (s) => s.id,
    expiresAt: (s) => isoFromEpoch(s.expiresAt),
    logins: (s) => s.logins,
  },
  VendorLogin: {
    // Each vendor module names its logins as the Vendor enum spells it.
    vendor: (l) => l.vendor as Vendor,
    subject: (l) => l.subject,
    expiresAt: (l) => (l.expiresAt !== undefined ? isoFromEpoch(l.expiresAt) : null),
  },
};

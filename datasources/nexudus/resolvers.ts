import type { Resolvers } from '../../src/__generated__/resolvers-types.js';
import { isoFromEpoch, isoFromVendor } from '../../src/datetime.js';
import { text } from '../../resolvers/scalars.js';

export const nexudusResolvers: Resolvers = {
  Query: {
    nexudusMe: (_parent, _args, ctx) => ctx.vendor('nexudus').me(),
    nexudusUserExists: (_parent, { email }, ctx) => ctx.vendor('nexudus').exists(email),
  },
  Mutation: {
    loginNexudus: async (_parent, { email, password, totp }, ctx) => {
      const target = await ctx.loginTarget();
      const login = await ctx.vendor('nexudus').login(email, password, totp);
      return ctx.attach(target, login);
    },
    impersonateNexudusUser: (_parent, { userId }, ctx) => ctx.vendor('nexudus').impersonate(userId),
  },
  Session: {
    nexudusUser: (s, _args, ctx) => (s.logins.some((l) => l.vendor === 'NEXUDUS') ? ctx.vendor('nexudus').meIfLoggedIn(s) : null),
  },
  NexudusUser: {
    // Nexudus only lets a member read themselves: a reference resolves to the session's member.
    __resolveReference: async (ref, ctx) => {
      const session = await ctx.session();
      const me = session ? await ctx.vendor('nexudus').meIfLoggedIn(session) : null;
      return me && `nexudus:${me.Id}` === String(ref.id) ? me : null;
    },
    id: (u) => `nexudus:${u.Id}`,
    vendor: () => 'NEXUDUS',
    userId: (u) => String(u.Id),
    email: (u) => text(u.Email),
    name: (u) => text(u.FullName),
    isAdmin: (u) => u.IsAdmin ?? null,
    active: (u) => u.Active ?? null,
    lastAccess: (u) => isoFromVendor(u.LastAccess),
    createdOn: (u) => isoFromVendor(u.CreatedOn),
  },
  Impersonation: {
    userId: (i) => i.userId,
    token: (i) => i.token,
    loginUrl: (i) => i.loginUrl,
    expiresAt: (i) => (i.expiresAt !== undefined ? isoFromEpoch(i.expiresAt) : null),
  },
};

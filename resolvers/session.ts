import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { isoFromEpoch } from '../src/datetime.js';
import type { ClientAccountRecord } from '../datasources/platform/models.js';
import { PLATFORM_SLOT } from '../datasources/platform/client.js';

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
    nexudusUser: (s, _args, ctx) => (s.logins.some((l) => l.vendor === 'NEXUDUS') ? ctx.nexudus.meIfLoggedIn(s) : null),
    clientAccount: (s) => (s.logins.find((l) => l.slot === PLATFORM_SLOT)?.profile as ClientAccountRecord | undefined) ?? null,
  },
  VendorLogin: {
    vendor: (l) => l.vendor,
    subject: (l) => l.subject,
    expiresAt: (l) => (l.expiresAt !== undefined ? isoFromEpoch(l.expiresAt) : null),
    deviceId: (l) => l.deviceId ?? null,
    account: (l) => l.account ?? null,
  },
  User: {
    __resolveType: (u) => ('data' in u && 'timeZone' in u ? 'NuveqUser' : 'Id' in u ? 'NexudusUser' : 'ClientAccount'),
  },
};

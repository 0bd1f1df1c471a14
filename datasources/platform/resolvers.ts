import type { Resolvers } from '../../src/__generated__/resolvers-types.js';
import { PLATFORM_SLOT } from './client.js';
import type { ClientAccountRecord } from './models.js';
import { text } from '../../resolvers/scalars.js';

export const platformResolvers: Resolvers = {
  Mutation: {
    loginClient: async (_parent, { email, password }, ctx) => {
      const target = await ctx.loginTarget();
      const answer = await ctx.vendor('platform').login(email, password);
      return ctx.attach(target, ctx.vendor('platform').toLogin(answer));
    },
    signupClient: async (_parent, { input }, ctx) => {
      const target = await ctx.loginTarget();
      const answer = await ctx.vendor('platform').signup(input);
      return ctx.attach(target, ctx.vendor('platform').toLogin(answer));
    },
    updateClientAccount: async (_parent, { input }, ctx) => ctx.vendor('platform').update(await ctx.requireSession(), input),
    deleteClientAccount: async (_parent, { reason }, ctx) => ctx.vendor('platform').delete(await ctx.requireSession(), reason),
  },
  Session: {
    clientAccount: (s) => (s.logins.find((l) => l.slot === PLATFORM_SLOT)?.profile as ClientAccountRecord | undefined) ?? null,
  },
  ClientAccount: {
    // Platform has no read endpoint: a reference resolves to the session's own client.
    __resolveReference: async (ref, ctx) => {
      const session = await ctx.session();
      const profile = session?.logins.find((l) => l.slot === PLATFORM_SLOT)?.profile as ClientAccountRecord | undefined;
      return profile && `platform:${profile.user_id}` === String(ref.id) ? profile : null;
    },
    id: (c) => `platform:${c.user_id}`,
    vendor: () => 'PLATFORM',
    userId: (c) => c.user_id,
    email: (c) => text(c.email),
    name: (c) => text([c.name?.first_name, c.name?.last_name].filter(Boolean).join(' ')),
    firstName: (c) => text(c.name?.first_name),
    lastName: (c) => text(c.name?.last_name),
    phoneNumber: (c) => text(c.phone_number),
  },
};

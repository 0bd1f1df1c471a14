import type { NamedRef, Resolvers } from '../../src/__generated__/resolvers-types.js';
import { isoFromLocal } from '../../src/datetime.js';
import type { NuveqUserRecord } from './models.js';
import { text } from '../../resolvers/scalars.js';

function ref(id: string | number | null | undefined, name: string | null | undefined): NamedRef | null {
  const key = text(id);
  return key === null ? null : { id: key, name: text(name) };
}

export const nuveqResolvers: Resolvers = {
  Query: {
    nuveqUser: (_parent, { userId }, ctx) => ctx.vendor('nuveq').user(userId),
    // Items come settled: null stays null (items are nullable) and an Error item is that item's
    // error, in graphql-js and graphql-jit alike. Codegen's type cannot say "or an Error".
    nuveqUsers: (_parent, { userIds }, ctx) => ctx.vendor('nuveq').users(userIds) as Promise<NuveqUserRecord[]>,
  },
  NuveqUser: {
    // Federation: representations go through the same per-request DataLoader, so N of them
    // make one batch, not N separate lookups.
    __resolveReference: (ref, ctx) => {
      const id = String(ref.id);
      return id.startsWith('nuveq:') ? ctx.vendor('nuveq').user(id.slice('nuveq:'.length)) : null;
    },
    id: (u) => `nuveq:${u.userId}`,
    vendor: () => 'NUVEQ',
    userId: (u) => u.userId,
    email: (u) => text(u.data.email),
    name: (u) => text(u.data.name),
    phone: (u) => text(u.data.phone),
    photoUrl: (u) => text(u.data.photo),
    staffNumber: (u) => text(u.data.staff_number),
    gender: (u) => text(u.data.gender),
    lastSeenAt: (u) => isoFromLocal(u.data.last_seen_at, u.timeZone),
    expiresAt: (u) => isoFromLocal(u.data.expires_at, u.timeZone),
    department: (u) => ref(u.data.department_id, u.data.department_name),
    post: (u) => ref(u.data.post_id, u.data.post_name),
    role: (u) => ref(u.data.role_id, u.data.role_name),
    accessGroupDescription: (u) => text(u.data.access_group_1_description),
  },
};

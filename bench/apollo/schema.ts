/**
 * The one field the Apollo contenders serve: `nuveqUser` as the gateway's schema has it, mapped
 * from Nuveq's User Detail answer the same way (empty strings as null, the zone-less date as UTC).
 */
export const typeDefs = `#graphql
  type NamedRef { id: ID! name: String }
  type NuveqUser {
    id: ID!
    userId: ID!
    email: String
    name: String
    phone: String
    staffNumber: String
    lastSeenAt: String
    department: NamedRef
    role: NamedRef
  }
  type Query { nuveqUser(userId: ID!): NuveqUser }
`;

export interface NuveqUserData {
  email?: string | null;
  name?: string | null;
  phone?: string | null;
  staff_number?: string | number | null;
  last_seen_at?: string | null;
  department_id?: string | number | null;
  department_name?: string | null;
  role_id?: string | number | null;
  role_name?: string | null;
}

export interface UserRecord {
  userId: string;
  data: NuveqUserData;
}

const text = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v));
const ref = (id: unknown, name: unknown) => (text(id) === null ? null : { id: text(id), name: text(name) });

export const userResolvers = {
  id: (u: UserRecord) => `nuveq:${u.userId}`,
  userId: (u: UserRecord) => u.userId,
  email: (u: UserRecord) => text(u.data.email),
  name: (u: UserRecord) => text(u.data.name),
  phone: (u: UserRecord) => text(u.data.phone),
  staffNumber: (u: UserRecord) => text(u.data.staff_number),
  lastSeenAt: (u: UserRecord) => (u.data.last_seen_at ? new Date(`${u.data.last_seen_at.replace(' ', 'T')}Z`).toISOString() : null),
  department: (u: UserRecord) => ref(u.data.department_id, u.data.department_name),
  role: (u: UserRecord) => ref(u.data.role_id, u.data.role_name),
};

/** Nuveq's api-port body for User Detail, from the same variables the gateway reads. */
export function detailBody(userId: string): Record<string, unknown> {
  return { port: process.env.NUVEQ_PORT, api_id: Number(process.env.NUVEQ_API_ID), user_id: Number(userId), token_key: process.env.NUVEQ_TOKEN_KEY };
}

/** `{"data": {...}}` is the user; `{"error": "User not found."}` is none. */
export function userOf(userId: string, body: { data?: NuveqUserData; error?: string }): UserRecord | null {
  return body.data && typeof body.data === 'object' ? { userId, data: body.data } : null;
}

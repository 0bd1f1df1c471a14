import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import type { ResolverMap, VendorModule } from '../src/vendors/module.js';
import { DateTime } from './scalars.js';
import { sessionResolvers } from './session.js';

type FieldMap = Record<string, unknown>;

/**
 * The core's resolvers and every vendor module's, merged type by type (a vendor may add fields to
 * the core's types, as it adds them to the schema). `User` resolves to the implementation whose
 * module owns the record.
 */
export function buildResolvers(modules: readonly VendorModule[]): Resolvers {
  const merged: Record<string, FieldMap> = {};
  for (const slice of [sessionResolvers as ResolverMap, ...modules.map((m) => m.resolvers)]) {
    for (const [type, fields] of Object.entries(slice)) merged[type] = { ...merged[type], ...(fields as FieldMap) };
  }
  const owners = modules.flatMap((m) => (m.userType ? [m.userType] : []));
  merged.User = {
    __resolveType: (record: object) => owners.find((o) => o.owns(record))?.typename ?? null,
  };
  return { ...merged, DateTime } as Resolvers;
}

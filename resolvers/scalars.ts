import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { isoFromEpoch, isoFromVendor } from '../src/datetime.js';

/** ISO-8601 with an offset. Internally epoch ms or vendor text; always served as text. */
export const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  description: 'ISO-8601 date-time with an offset, e.g. 2022-12-22T08:30:00+00:00',
  serialize(value) {
    if (typeof value === 'number') return isoFromEpoch(value);
    if (value instanceof Date) return isoFromEpoch(value.getTime());
    if (typeof value === 'string') return value;
    throw new GraphQLError('DateTime cannot represent this value');
  },
  parseValue(value) {
    const iso = typeof value === 'string' ? isoFromVendor(value) : null;
    if (!iso || !/[+-]\d{2}:\d{2}$/.test(iso)) throw new GraphQLError('DateTime must be ISO-8601 text');
    return iso;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string');
    const iso = isoFromVendor(ast.value);
    if (!iso) throw new GraphQLError('DateTime must be ISO-8601 text');
    return iso;
  },
});

/** Vendors send "" for "nothing": the contract says null. Ids may be numbers. */
export function text(value: string | number | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const s = String(value).trim();
  return s === '' ? null : s;
}

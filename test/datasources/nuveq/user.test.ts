import { describe, expect, test } from '@jest/globals';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { execute, parse } from 'graphql';
import { buildSchema } from '../../../src/graphql/schema.js';
import { VENDORS } from '../../../src/vendors/registry.js';
import { NuveqUserRecord } from '../../../datasources/nuveq/user.js';
import type { NuveqUserData } from '../../../datasources/nuveq/models.js';
import type { NuveqUser } from '../../../src/__generated__/resolvers-types.js';

const DATA: NuveqUserData = {
  email: 'ada@example.com',
  name: ' Ada ',
  phone: '',
  staff_number: 42,
  last_seen_at: '2024-07-01 08:30:00',
  department_id: 3,
  department_name: 'Engineering',
  post_id: '',
  role_id: 1,
  role_name: '',
};

const QUERY = parse(`{
  nuveqUser(userId: "1001") {
    id vendor userId email name phone photoUrl staffNumber gender lastSeenAt expiresAt
    department { id name } post { id name } role { id name } accessGroupDescription
  }
}`);

/** The schema the gateway serves, with `nuveqUser` answering the record given. */
function schemaAnswering(record: NuveqUserRecord) {
  const schema = buildSchema(VENDORS);
  const field = schema.getQueryType()!.getFields().nuveqUser!;
  field.resolve = () => record;
  return schema;
}

/** The record with its vendor data counting how often each property is read. */
function counted(data: NuveqUserData, timeZone = 'UTC'): { record: NuveqUserRecord; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const watched = new Proxy(data, {
    get(target, key) {
      if (typeof key === 'string') reads.set(key, (reads.get(key) ?? 0) + 1);
      return target[key as keyof NuveqUserData];
    },
  });
  return { record: new NuveqUserRecord('1001', watched, timeZone), reads };
}

describe('NuveqUserRecord: the GraphQL fields of a Nuveq user', () => {
  test('maps the vendor data as the contract says: "" as null, ids as text, local times with their offset', () => {
    const user = new NuveqUserRecord('1001', DATA, 'Europe/Berlin');
    // Every field of the GraphQL type is on the record, typed as the schema says (the codegen
    // mapper alone does not check that: a field the record lacked would silently answer null).
    const typed: Required<Omit<NuveqUser, '__typename'>> = user;
    expect(typed.userId).toBe('1001');
    expect({ ...Object.fromEntries(['id', 'vendor', 'userId', 'email', 'name', 'phone', 'photoUrl', 'staffNumber', 'gender', 'lastSeenAt', 'expiresAt', 'accessGroupDescription'].map((k) => [k, user[k as keyof NuveqUserRecord]])) }).toEqual({
      id: 'nuveq:1001',
      vendor: 'NUVEQ',
      userId: '1001',
      email: 'ada@example.com',
      name: 'Ada',
      phone: null,
      photoUrl: null,
      staffNumber: '42',
      gender: null,
      lastSeenAt: '2024-07-01T08:30:00+02:00',
      expiresAt: null,
      accessGroupDescription: null,
    });
    expect(user.department).toEqual({ id: '3', name: 'Engineering' });
    expect(user.post).toBeNull();
    expect(user.role).toEqual({ id: '1', name: null });
  });

  test('graphql-jit and graphql-js give the same answer, and each reads every vendor value once', async () => {
    const jit = counted(DATA);
    const compiled = compileQuery(schemaAnswering(jit.record), QUERY);
    if (!isCompiledQuery(compiled)) throw new Error('the query did not compile');
    const fromJit = await compiled.query(undefined, {}, {});

    const js = counted(DATA);
    const fromJs = await execute({ schema: schemaAnswering(js.record), document: QUERY });

    expect(fromJit.errors).toBeUndefined();
    expect(JSON.stringify(fromJit)).toBe(JSON.stringify(fromJs));
    // graphql-jit reads an object field's source for its null check, its error check and each
    // subfield: the record builds department, post and role once each, however often they are read.
    for (const key of ['department_id', 'department_name', 'post_id', 'role_id', 'role_name', 'last_seen_at', 'email']) {
      expect([key, jit.reads.get(key)]).toEqual([key, 1]);
      expect([key, js.reads.get(key)]).toEqual([key, 1]);
    }
  });
});

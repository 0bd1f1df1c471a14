import { describe, expect, test } from '@jest/globals';
import { buildSchema as buildSdl, execute, parse, type GraphQLSchema } from 'graphql';
import { FastPath } from '../../../src/graphql/fast-path.js';
import { Metrics } from '../../../src/metrics.js';
import { settleListItems } from '../../../src/graphql/schema.js';

/**
 * The fast path must answer exactly what graphql-js' `execute` answers, whatever shape the result
 * takes. This runs generated shapes (lists of every nullability, items that are values, nulls,
 * errors, rejections, pending promises, items whose non-null fields fail, nested lists) through
 * both on one schema, prepared as the gateway prepares its own, and compares the whole answer.
 */

type Behaviour = 'value' | 'null' | 'error' | 'reject' | 'promise' | 'badChild';
const BEHAVIOURS: Behaviour[] = ['value', 'null', 'error', 'reject', 'promise', 'badChild'];

const sdl = `
  type Query {
    items: [Item]
    strictItems: [Item!]
    requiredList: [Item]!
    nested: [[Item]]
    scalars: [String]
    strictScalars: [String!]!
    one: Item
    oneStrict: Item!
  }
  type Item { id: ID  name: String!  child: Item  tags: [String!] }
`;

interface Plan {
  items: Behaviour[];
}

function item(b: Behaviour, i: number): unknown {
  const value = { id: `i${i}`, name: `n${i}`, child: null, tags: [`t${i}`] };
  switch (b) {
    case 'value':
      return value;
    case 'null':
      return null;
    case 'error':
      return new Error(`error ${i}`);
    case 'reject':
      return Promise.reject(new Error(`rejected ${i}`));
    case 'promise':
      return Promise.resolve(value);
    case 'badChild':
      // A non-null field of the item fails: the item becomes null (or the list, for [Item!]).
      return { ...value, name: () => { throw new Error(`name ${i}`); } };
  }
}

function schemaFor(): GraphQLSchema {
  const schema = buildSdl(sdl);
  const fields = schema.getQueryType()!.getFields();
  const list = (_s: unknown, _a: unknown, ctx: Plan) => ctx.items.map(item);
  fields.items!.resolve = list;
  fields.strictItems!.resolve = list;
  fields.requiredList!.resolve = list;
  fields.nested!.resolve = (s, a, ctx: Plan) => [list(s, a, ctx), null, list(s, a, ctx)];
  fields.scalars!.resolve = (_s, _a, ctx: Plan) => ctx.items.map((b, i) => (b === 'reject' ? Promise.reject(new Error(`s${i}`)) : b === 'null' ? null : b === 'error' ? new Error(`s${i}`) : `s${i}`));
  fields.strictScalars!.resolve = fields.scalars!.resolve;
  fields.one!.resolve = (_s, _a, ctx: Plan) => item(ctx.items[0] ?? 'value', 0);
  fields.oneStrict!.resolve = fields.one!.resolve;
  const nameField = schema.getType('Item') as unknown as { getFields(): Record<string, { resolve?: (s: Record<string, unknown>) => unknown }> };
  nameField.getFields().name!.resolve = (s) => (typeof s.name === 'function' ? (s.name as () => unknown)() : s.name);
  // Prepared as the gateway prepares its schema.
  settleListItems(schema);
  return schema;
}

function plans(maxLength: number): Behaviour[][] {
  const out: Behaviour[][] = [[]];
  let frontier: Behaviour[][] = [[]];
  for (let n = 1; n <= maxLength; n++) {
    frontier = frontier.flatMap((p) => BEHAVIOURS.map((b) => [...p, b]));
    out.push(...frontier);
  }
  return out;
}

const QUERIES = [
  '{ items { id name } }',
  '{ strictItems { id name } }',
  '{ requiredList { id name } }',
  '{ nested { id name } }',
  '{ scalars }',
  '{ strictScalars }',
  '{ one { id name } oneStrict { id } }',
  '{ items { id tags child { id } } scalars }',
  'query Many { a: items { id } b: strictItems { name } c: requiredList { name } }',
];

/**
 * Errors in a stable order. The spec gives the errors list no order, and the two executors list a
 * nested field's error and a later item's error in different orders; clients match errors by
 * path. Everything else (messages, paths, locations, data) must be equal.
 */
function inOrder(body: { errors?: unknown[] }): unknown {
  return body.errors ? { ...body, errors: [...body.errors].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) } : body;
}

describe('fast path against graphql-js, over generated shapes', () => {
  const schema = schemaFor();
  const fast = new FastPath({ schema, rules: [], maxTokens: 1000, introspection: true, formatError: (f) => f, metrics: new Metrics(), maxBytes: 1024 * 1024 });
  const cases = plans(3);

  test.each(QUERIES)('%s: every plan of up to 3 items answers the same', async (query) => {
    let compared = 0;
    for (const items of cases) {
      const context: Plan = { items };
      const reference = await execute({ schema, document: parse(query), contextValue: context });
      const expected = { ...(reference.errors ? { errors: reference.errors.map((e) => e.toJSON()) } : {}), data: reference.data };
      const answer = await fast.run({ query }, undefined, context as never);
      expect(answer).toBeDefined();
      const got = JSON.parse(answer!.body) as { errors?: unknown[] };
      expect([items, inOrder(got)]).toEqual([items, inOrder(JSON.parse(JSON.stringify(expected)))]);
      compared++;
    }
    expect(compared).toBe(cases.length);
  });
});

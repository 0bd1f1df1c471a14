import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { defaultFieldResolver, getNullableType, isListType, isObjectType, isUnionType, parse, type GraphQLOutputType, type GraphQLSchema } from 'graphql';
import { buildResolvers } from '../../resolvers/index.js';
import { packageRoot } from '../config/package.js';
import type { VendorModule } from '../vendors/module.js';
import { VENDORS } from '../vendors/registry.js';
import { BadUserInputError } from '../errors.js';
import { settleAll } from '../settle.js';

/** The core's SDL (schema/*.graphql, in file-name order), then each vendor module's, in registry order. */
export function loadTypeDefs(modules: readonly VendorModule[] = VENDORS): string {
  const dir = resolve(packageRoot(), 'schema');
  const core = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(resolve(dir, f), 'utf8'));
  return [...core, ...modules.map((m) => m.typeDefs)].join('\n');
}

/** The executable schema: a Federation 2 subgraph (`_service`, `_entities`) of the core and every vendor module. */
export function buildSchema(modules: readonly VendorModule[] = VENDORS): GraphQLSchema {
  // The resolvers are typed by codegen against Context; @apollo/subgraph declares its map for an
  // `unknown` context, which a typed map cannot be assigned to.
  const schema = buildSubgraphSchema([{ typeDefs: parse(loadTypeDefs(modules)), resolvers: buildResolvers(modules) as never }]);
  checkEntityReferences(schema);
  settleListItems(schema);
  return schema;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/**
 * A list (of `depth` levels) once every item settled: a rejected item becomes its Error, and
 * inner lists settle the same way. Plain lists come back as they are.
 */
function settled(value: unknown, depth: number): unknown {
  if (isThenable(value)) return Promise.resolve(value).then((v) => settled(v, depth));
  if (depth === 0 || !Array.isArray(value)) return value;
  const items = depth > 1 ? value.map((v) => settled(v, depth - 1)) : value;
  if (!items.some(isThenable)) return items;
  return settleAll(items);
}

/** How many list levels a field's type has (`[[T]]` is 2). */
function listDepth(type: GraphQLOutputType): number {
  let depth = 0;
  for (let t = getNullableType(type); isListType(t); t = getNullableType(t.ofType)) depth++;
  return depth;
}

/**
 * Every list field answers its items settled, a failed item as its Error. graphql-js reads an
 * Error item exactly as a rejected one (that item's error, null in its place); graphql-jit does
 * not: for `[Promise.reject(e), x]` it answers a list one item longer than the one resolved,
 * which a federation router rejects whole. So both executors see one shape, and answer alike.
 */
export function settleListItems(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const depth = listDepth(field.type);
      if (depth === 0) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) => settled(resolve(source, args, context, info), depth);
    }
  }
}

/**
 * `_entities` takes representations from a router, or from anyone who can reach the subgraph:
 * one whose `__typename` is no entity of this schema is that item's BAD_USER_INPUT, not an
 * internal error for the whole field (@apollo/subgraph throws for it, or echoes a non-entity).
 */
function checkEntityReferences(schema: GraphQLSchema): void {
  const field = schema.getQueryType()?.getFields()._entities;
  const entity = schema.getType('_Entity');
  if (!field?.resolve || !isUnionType(entity)) return;
  const entities = new Set(entity.getTypes().map((t) => t.name));
  const resolve = field.resolve;
  field.resolve = (source, args: { representations?: unknown[] }, context, info) => {
    const representations = args.representations ?? [];
    const refused: Array<Error | undefined> = representations.map((r) => {
      const name = (r as { __typename?: unknown } | null)?.__typename;
      return typeof name === 'string' && entities.has(name) ? undefined : new BadUserInputError('A representation must name an entity type of this subgraph in __typename', 'representations');
    });
    if (!refused.some(Boolean)) return resolve(source, args, context, info);
    const found = resolve(source, { ...args, representations: representations.filter((_, i) => !refused[i]) }, context, info) as unknown[];
    let next = 0;
    return representations.map((_, i) => refused[i] ?? found[next++]);
  };
}


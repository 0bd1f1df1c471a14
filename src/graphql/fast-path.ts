import { hash } from 'node:crypto';
import {
  BREAK,
  execute,
  getNullableType,
  isListType,
  isNonNullType,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationRule,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { LRUCache } from 'lru-cache';
import type { Context } from './context.js';
import { errorCodeOf } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { requestSpan } from '../tracing/spans.js';
import { documentBytes } from './document-stores.js';

/**
 * The hot path: a POST of JSON whose document already parsed and validated is executed straight
 * away, compiled once with graphql-jit (about 4 µs a request where graphql-js' `execute` takes
 * about 20; plain `execute` where a document does not compile), with the same context, validation rules,
 * error formatting and metrics as the Apollo Server pipeline. Everything else (GET, persisted
 * queries, the explorer, and every request-level error: parse, validation, variable coercion) goes
 * through Apollo Server, so those answers stay exactly Apollo's.
 */

interface Prepared {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  compiled?: CompiledQuery;
  /** What it holds: the source text and syntax tree, three times over when compiled (the generated code). */
  bytes: number;
}

export interface FastPathOptions {
  schema: GraphQLSchema;
  rules: ValidationRule[];
  maxTokens: number;
  introspection: boolean;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  metrics: Metrics;
  /** Bytes of prepared documents kept (GRAPHQL_DOCUMENT_CACHE_BYTES). */
  maxBytes: number;
  /** Tracing is on: the request's span learns the operation and its errors. */
  traced?: boolean;
}

export interface FastAnswer {
  status: number;
  contentType: string;
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** Small documents kept for a text comparison before the hash (see FastPath.remember). */
const RECENT_DOCUMENTS = 8;
const RECENT_DOCUMENT_BYTES = 16 * 1024;
const GRAPHQL_RESPONSE_TYPE = 'application/graphql-response+json; charset=utf-8';

/**
 * Whether graphql-jit answers this operation exactly as graphql-js does. It does not for lists of
 * non-null items: where graphql-js stops at the first item error (the list becomes null), it goes
 * on and reports every item's error. Such operations run on graphql-js' `execute` instead. (Its
 * other difference, a longer list when an item promise rejects, cannot arise: list resolvers
 * settle their items first, see `settleListItems` in schema.ts.)
 */
export function jitSafe(schema: GraphQLSchema, document: DocumentNode): boolean {
  const typeInfo = new TypeInfo(schema);
  let safe = true;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        for (let type = getNullableType(typeInfo.getType()); type && isListType(type); type = getNullableType(type.ofType)) {
          if (isNonNullType(type.ofType)) {
            safe = false;
            return BREAK;
          }
        }
        return undefined;
      },
    }),
  );
  return safe;
}

export class FastPath {
  /**
   * Documents that parsed and validated, by a hash of operation name and text, bounded in the
   * bytes they hold (the text, its syntax tree and the compiled code). Invalid documents are never
   * kept (Apollo answers them), nor is one larger than an eighth of the budget.
   */
  private readonly documents: LRUCache<string, Prepared>;
  /** The most recently used small documents, newest first (see `remember`). */
  private readonly recent: Array<{ query: string; operationName: string | undefined; prepared: Prepared }> = [];
  private readonly rules: ValidationRule[];

  constructor(private readonly options: FastPathOptions) {
    this.documents = new LRUCache<string, Prepared>({
      maxSize: Math.max(1, options.maxBytes),
      maxEntrySize: Math.max(1, Math.floor(options.maxBytes / 8)),
      sizeCalculation: (p) => p.bytes,
    });
    this.rules = [...specifiedRules, ...options.rules, ...(options.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  }

  /** The media type Apollo would answer with, or undefined when it is not a plain choice. */
  private static mediaType(accept: string | undefined): string | undefined {
    if (!accept || accept.includes('application/json') || accept.includes('*/*')) return JSON_TYPE;
    if (accept.includes('application/graphql-response+json')) return GRAPHQL_RESPONSE_TYPE;
    return undefined;
  }

  private prepare(query: string, operationName: string | undefined): Prepared | undefined {
    // The last few small documents, compared as text: clients send the same handful of operations
    // over and over, and comparing ~100 characters costs less than hashing them.
    for (const r of this.recent) if (r.query === query && r.operationName === operationName) return r.prepared;
    // One-shot hash: the key holds 43 characters, not the document.
    const key = hash('sha256', operationName === undefined ? query : `${operationName}\u0000${query}`, 'base64url');
    const known = this.documents.get(key);
    if (known) {
      this.remember(query, operationName, known);
      return known;
    }
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: this.options.maxTokens });
    } catch {
      return undefined;
    }
    const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
    const operation = operationName === undefined ? (operations.length === 1 ? operations[0] : undefined) : operations.find((o) => o.name?.value === operationName);
    if (!operation || operation.operation === 'subscription' || validate(this.options.schema, document, this.rules).length > 0) return undefined;
    // Queries only: graphql-jit goes on with the next root field of a mutation after one fails
    // with a non-null error, where graphql-js (and Apollo) stop; mutations keep graphql-js' rules.
    // No customJSONSerializer: its fast-json-stringify schemas cannot type custom scalars (DateTime).
    const compiled = operation.operation === 'query' && jitSafe(this.options.schema, document) ? compileQuery(this.options.schema, document, operationName) : undefined;
    const prepared: Prepared = { document, operation, compiled: compiled && isCompiledQuery(compiled) ? compiled : undefined, bytes: 0 };
    prepared.bytes = documentBytes(document) * (prepared.compiled ? 3 : 1);
    this.documents.set(key, prepared);
    if (this.documents.has(key)) this.remember(query, operationName, prepared);
    return prepared;
  }

  /**
   * Keeps a prepared document among the recent ones, if it is small: RECENT_DOCUMENTS of at most
   * RECENT_DOCUMENT_BYTES each, so what they can hold beyond the byte-bounded cache is bounded too.
   */
  private remember(query: string, operationName: string | undefined, prepared: Prepared): void {
    if (prepared.bytes > RECENT_DOCUMENT_BYTES) return;
    this.recent.unshift({ query, operationName, prepared });
    if (this.recent.length > RECENT_DOCUMENTS) this.recent.pop();
  }

  /**
   * Runs the request if it is the plain case, or answers undefined so the caller hands it to
   * Apollo Server. Nothing has executed when it answers undefined.
   */
  run(body: unknown, accept: string | undefined, context: Context): Promise<FastAnswer | undefined> | undefined {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
    const { query, variables, operationName, extensions } = body as Record<string, unknown>;
    if (typeof query !== 'string' || extensions !== undefined) return undefined;
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
    if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
    const contentType = FastPath.mediaType(accept);
    if (!contentType) return undefined;
    const prepared = this.prepare(query, operationName ?? undefined);
    if (!prepared) return undefined;
    const { schema } = this.options;
    const { compiled } = prepared;
    const span = this.options.traced ? requestSpan() : undefined;
    span?.operation(prepared.operation.operation, prepared.operation.name?.value, query);
    try {
      const result = compiled
        ? compiled.query(undefined, context, (variables as Record<string, unknown> | null) ?? {})
        : execute({
            schema,
            document: prepared.document,
            variableValues: (variables as Record<string, unknown> | null) ?? undefined,
            operationName: operationName ?? undefined,
            contextValue: context,
          });
      // Straight on from the execution's own promise: no async wrapper and await in between.
      return isPromise(result) ? result.then((r) => this.answer(r as ExecutionResult, prepared, contentType, span)) : Promise.resolve(this.answer(result as ExecutionResult, prepared, contentType, span));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private answer(result: ExecutionResult, prepared: Prepared, contentType: string, span: ReturnType<typeof requestSpan> | undefined): FastAnswer | undefined {
    const { metrics, formatError } = this.options;
    // Variable coercion failed before anything ran: Apollo answers that (400, BAD_USER_INPUT).
    if (result.data === undefined) return undefined;
    const type = prepared.operation.operation;
    let text: string;
    if (result.errors?.length) {
      const errors = result.errors.map((e) => {
        metrics.graphqlErrors.inc({ code: errorCodeOf(e) });
        return formatError(e.toJSON(), e);
      });
      span?.errors(errors.map((e) => String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR')));
      metrics.operation(type, 'error');
      text = `${JSON.stringify({ errors, data: result.data })}\n`;
    } else {
      metrics.operation(type, 'ok');
      // Apollo ends every body with a newline; so do we.
      text = `${JSON.stringify({ data: result.data })}\n`;
    }
    return { status: 200, contentType, body: text };
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

import { GraphQLError, parse, specifiedRules, subscribe, validate, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema, type OperationDefinitionNode, type ValidationRule } from 'graphql';
import type { Config } from '../config/types.js';
import { BadUserInputError } from '../errors.js';
import { Context, type Services } from '../graphql/context.js';
import { RequestScope } from '../limits/request-scope.js';
import { listLimitMessage, oversizedList } from '../app/request-checks.js';
import { Guarded } from './guard.js';
import { formattedResult, sendable } from './sendable.js';
import { SessionWatch } from './session-watch.js';

/**
 * What both transports do with a subscription: the same checks as POST /graphql (list sizes in
 * variables, the token limit, every validation rule), then a run in a Context of its own, watched
 * for its session's end, counted per session and by field. Only subscriptions are served here;
 * queries and mutations stay on POST /graphql, where the one request pipeline is.
 */

/** Who asked: the session token and the client's address. */
export interface Caller {
  token?: string;
  clientAddress: string;
}

export interface OperationRunnerOptions {
  config: Config;
  schema: GraphQLSchema;
  services: Services;
  rules: ValidationRule[];
  format: (error: GraphQLError) => GraphQLFormattedError;
}

export class OperationRunner {
  private readonly watch: SessionWatch;
  private readonly rules: ValidationRule[];
  private readonly live = new Set<Guarded>();
  private closed = false;

  constructor(private readonly options: OperationRunnerOptions) {
    const { services, config } = options;
    this.watch = new SessionWatch(services.sessions.store, services.clock, config.subscriptions.perSession);
    this.rules = [...specifiedRules, ...options.rules];
  }

  /** Parsed and validated arguments for a subscription, or the errors that refuse it. */
  prepare(params: { query?: unknown; variables?: unknown; operationName?: unknown }): ExecutionArgs | GraphQLError[] {
    const { config, schema } = this.options;
    if (typeof params.query !== 'string') return [new BadUserInputError('A subscription needs a query')];
    const variables = params.variables ?? undefined;
    if (variables !== undefined && (typeof variables !== 'object' || Array.isArray(variables))) return [new BadUserInputError('variables must be an object')];
    const tooLong = variables ? oversizedList(variables, config.limits.listItems) : undefined;
    if (tooLong) return [new BadUserInputError(listLimitMessage(tooLong, config.limits.listItems))];
    let document: DocumentNode;
    try {
      document = parse(params.query, { maxTokens: config.limits.tokens });
    } catch (error) {
      return [withCode(error as GraphQLError, 'GRAPHQL_PARSE_FAILED')];
    }
    const errors = validate(schema, document, this.rules);
    if (errors.length) return errors.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
    const operationName = typeof params.operationName === 'string' ? params.operationName : undefined;
    const operation = operationOf(document, operationName);
    if (!operation) return [badRequest('Name the operation to run (operationName)')];
    if (operation.operation !== 'subscription') {
      return [badRequest('Queries and mutations go to POST /graphql; this endpoint serves subscriptions')];
    }
    return { schema, document, variableValues: variables as Record<string, unknown> | undefined, operationName };
  }

  /** Runs a prepared subscription for `caller`: its result stream, or the one result that refuses it. */
  async run(args: ExecutionArgs, caller: Caller): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const { services, config, format } = this.options;
    if (this.closed) return { errors: sendable([{ message: 'The gateway is stopping; subscribe again shortly', extensions: { code: 'UPSTREAM_UNAVAILABLE' } }]) };
    const scope = new RequestScope(new AbortController().signal, Number.POSITIVE_INFINITY, config.limits.vendorCallsPerRequest);
    const context = new Context(services, { token: caller.token, clientAddress: caller.clientAddress, scope });
    const session = await context.session().catch(() => undefined);
    if (session && this.watch.full(session.id)) return { errors: sendable([format(this.watch.refusal())]) };
    const result = await subscribe({ ...args, contextValue: context });
    if (!(Symbol.asyncIterator in result)) return formattedResult(result, format);
    const field = rootField(args.document, args.operationName);
    let release = (): void => undefined;
    const guarded = new Guarded(result, format, () => {
      this.live.delete(guarded);
      release();
      services.metrics.subscriptions.dec({ field });
    });
    try {
      if (session) release = this.watch.add(session, (error) => guarded.stop(error));
    } catch (error) {
      await result.return?.(undefined);
      return { errors: sendable([format(error as GraphQLError)]) };
    }
    this.live.add(guarded);
    services.metrics.subscriptions.inc({ field });
    return guarded;
  }

  /** Live subscriptions now. */
  get size(): number {
    return this.live.size;
  }

  /** Ends every subscription (the gateway stops). */
  async close(): Promise<void> {
    this.closed = true;
    this.watch.stop();
    await Promise.all([...this.live].map((g) => g.return()));
  }
}

function badRequest(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_REQUEST' } });
}

/** The error with Apollo's code for its kind, unless a rule gave it one of ours. */
function withCode(error: GraphQLError, code: string): GraphQLError {
  if (error.extensions?.code) return error;
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions: { ...error.extensions, code } });
}

function operationOf(document: DocumentNode, operationName: string | undefined): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
  if (operationName !== undefined) return operations.find((o) => o.name?.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

function rootField(document: DocumentNode, operationName?: string | null): string {
  const first = operationOf(document, operationName ?? undefined)?.selectionSet.selections[0];
  return first?.kind === 'Field' ? first.name.value : 'unknown';
}

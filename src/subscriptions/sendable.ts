import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';

/**
 * Formatted errors (our codes, masking) in the shape the transports serialize: graphql-ws calls
 * `toJSON()` on each error of a result, graphql-sse stringifies them.
 */
export function sendable(errors: readonly GraphQLFormattedError[]): GraphQLError[] {
  return errors.map((e) => ({ ...e, toJSON: () => e }) as unknown as GraphQLError);
}

/** A result whose errors went through `format`, ready for either transport. */
export function formattedResult(result: ExecutionResult, format: (error: GraphQLError) => GraphQLFormattedError): ExecutionResult {
  return result.errors ? { ...result, errors: sendable(result.errors.map(format)) } : result;
}

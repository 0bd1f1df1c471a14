import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { GraphQLError, type ASTVisitor, type ValidationContext, type ValidationRule } from 'graphql';
import type { Limits } from '../config/types.js';

/**
 * graphql-armor's rules throw on rejection by default, which Apollo reports as an internal error;
 * reported through the validation context they are ordinary validation errors (400).
 */
function reportLimit(context: ValidationContext | null, error: GraphQLError): void {
  context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')));
}

/** The operation limits, checked before any resolver runs, on the fast path and in Apollo alike. */
export function validationRules(limits: Limits): ValidationRule[] {
  const common = { exposeLimits: true, propagateOnRejection: false, onReject: [reportLimit] };
  return [
    maxDepthRule({ n: limits.depth, ...common }),
    // Introspection is the one place this schema can nest without end (`ofType { ofType ... }`);
    // explorers need about 21 levels (graphql-js getIntrospectionQuery), so it gets its own, looser bound.
    maxDepthRule({ n: Math.max(30, limits.depth), ignoreIntrospection: false, ...common }),
    maxAliasesRule({ n: limits.aliases, ...common }),
    maxListItemsRule(limits.listItems),
  ];
}

/** Lists written in the document itself are bounded like those in variables (GRAPHQL_MAX_LIST_ITEMS). */
export function maxListItemsRule(limit: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    ListValue(node) {
      if (node.values.length > limit) {
        context.reportError(new GraphQLError(`A list may hold at most ${limit} items (GRAPHQL_MAX_LIST_ITEMS)`, { nodes: node }));
      }
    },
  });
}

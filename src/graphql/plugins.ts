import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { errorCodeOf } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Context } from './context.js';
import { requestSpan } from '../tracing/spans.js';

/** Operations and errors counted as the fast path counts them. */
export function metricsPlugin(metrics: Metrics): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const e of errors) metrics.graphqlErrors.inc({ code: errorCodeOf(e) });
        },
        async willSendResponse({ operation, errors }) {
          metrics.operation(operation?.operation ?? 'unknown', errors?.length ? 'error' : 'ok');
        },
      };
    },
  };
}

/**
 * Subscriptions are not served over a plain POST or GET: that is a client's mistake (400), not an
 * internal error with a stack in the log.
 */
export const subscriptionsOverHttpPlugin: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation === 'subscription') {
          throw new GraphQLError('Subscriptions are not served over a plain GraphQL request: use a WebSocket (graphql-transport-ws) or GraphQL over SSE', {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
      },
    };
  },
};

/** The request's span (tracing on) learns the operation and the codes of its errors. */
export const tracingPlugin: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    const span = requestSpan();
    if (!span) return {};
    return {
      async didResolveOperation({ operation, request }) {
        if (operation) span.operation(operation.operation, operation.name?.value, request.query ?? '');
      },
      async didEncounterErrors({ errors }) {
        span.errors(errors.map((e) => errorCodeOf(e)));
      },
    };
  },
};

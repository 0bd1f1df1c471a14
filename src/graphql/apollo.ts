import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { GraphQLFormattedError, GraphQLSchema, ValidationRule } from 'graphql';
import type { Config } from '../config/types.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Context } from './context.js';
import { documentStore, persistedQueryStore } from './document-stores.js';
import { metricsPlugin, subscriptionsOverHttpPlugin, tracingPlugin } from './plugins.js';

export interface ApolloOptions {
  config: Config;
  schema: GraphQLSchema;
  rules: ValidationRule[];
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  logger: Logger;
  metrics: Metrics;
}

/** Apollo Server 5, started, with the gateway's limits, error format, metrics and bounded caches. */
export async function createApollo(options: ApolloOptions): Promise<ApolloServer<Context>> {
  const { config } = options;
  const plugins: ApolloServerPlugin<Context>[] = [
    ApolloServerPluginCacheControlDisabled(),
    ApolloServerPluginUsageReportingDisabled(),
    ApolloServerPluginSchemaReportingDisabled(),
    ApolloServerPluginInlineTraceDisabled(),
    metricsPlugin(options.metrics),
    subscriptionsOverHttpPlugin,
    ...(config.tracing ? [tracingPlugin] : []),
    // Browsers opening /graphql get the gateway's explorer before Apollo sees the request.
    ApolloServerPluginLandingPageDisabled(),
  ];
  const apollo = new ApolloServer<Context>({
    schema: options.schema,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    introspection: config.introspection,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: config.production,
    nodeEnv: config.production ? 'production' : 'development',
    parseOptions: { maxTokens: config.limits.tokens },
    validationRules: options.rules,
    formatError: options.formatError,
    stopOnTerminationSignals: false,
    // Kept in this process, bounded in bytes: a client whose query is not here sends it again.
    persistedQueries: { cache: persistedQueryStore(config.limits.apqCacheBytes, config.limits.apqDocumentBytes), ttl: 86_400 },
    documentStore: documentStore(config.limits.documentCacheBytes),
    logger: options.logger,
    plugins,
  });
  await apollo.start();
  return apollo;
}

import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { RESTDataSource } from '@apollo/datasource-rest';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import { detailBody, typeDefs, userOf, userResolvers, type NuveqUserData } from './schema.js';

/**
 * Contender: Apollo Server 5 with a RESTDataSource, as Apollo's documentation shows it
 * (startStandaloneServer, a data source per request built in the context function, the server's
 * cache handed to it). Nuveq's API is POST-only, so nothing is cached or deduplicated.
 */
class NuveqAPI extends RESTDataSource {
  override baseURL = process.env.NUVEQ_URL;

  async getUser(userId: string) {
    return userOf(userId, await this.post<{ data?: NuveqUserData; error?: string }>('', { body: detailBody(userId) }));
  }
}

interface ContextValue {
  dataSources: { nuveqAPI: NuveqAPI };
}

const server = new ApolloServer<ContextValue>({
  typeDefs,
  resolvers: {
    Query: { nuveqUser: (_: unknown, { userId }: { userId: string }, { dataSources }: ContextValue) => dataSources.nuveqAPI.getUser(userId) },
    NuveqUser: userResolvers,
  },
});

const { url } = await startStandaloneServer(server, {
  listen: { port: 0, host: '127.0.0.1' },
  context: async () => {
    const { cache } = server as unknown as { cache: KeyValueCache };
    return { dataSources: { nuveqAPI: new NuveqAPI({ cache }) } };
  },
});
process.stdout.write(`${JSON.stringify({ url: url.replace(/\/$/, '') })}\n`);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));

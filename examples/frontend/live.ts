import { ApolloClient, HttpLink, InMemoryCache, split } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient as createWsClient } from 'graphql-ws';
import { DeviceConnectionDocument, createSwitchboardClient, errorCode } from '@switchboard/sdk';

/** Apollo Client: queries and mutations over HTTP, subscriptions over the same URL's WebSocket. */
export function createLiveClient(uri: string, token: () => string | undefined, webSocketImpl?: unknown) {
  const ws = new GraphQLWsLink(
    createWsClient({
      url: uri.replace(/^http/, 'ws'),
      // Read when the socket connects: log in before subscribing.
      connectionParams: () => ({ authorization: `Bearer ${token() ?? ''}` }),
      webSocketImpl, // a browser has its own; Node 20 needs the `ws` package
    }),
  );
  const auth = new SetContextLink(({ headers }) => ({ headers: { ...headers, authorization: `Bearer ${token() ?? ''}` } }));
  const http = auth.concat(new HttpLink({ uri }));
  const isSubscription = ({ query }: { query: Parameters<typeof getMainDefinition>[0] }) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  };
  return new ApolloClient({ link: split(isSubscription, ws, http), cache: new InMemoryCache() });
}

/** Whether the device is reachable, as it changes (typed: DeviceConnectionSubscription). */
export function watchRoom(client: ApolloClient, deviceId: string, onChange: (online: boolean) => void) {
  return client.subscribe({ query: DeviceConnectionDocument, variables: { deviceId } }).subscribe({
    next: ({ data }) => data && onChange(data.deviceConnection.online),
  });
}

/** The SDK: a typed async iterator per subscription; leaving the loop unsubscribes. */
export async function firstSounds(endpoint: string, deviceId: string, count: number, webSocketImpl?: unknown) {
  const sb = createSwitchboardClient(endpoint, { webSocketImpl });
  await sb.LoginNureva({ deviceId, account: 'MONITOR', password: 'monitor-demo' });
  const heard: Array<{ x: number | null; y: number | null; powerLevel: number | null }> = [];
  try {
    for await (const { deviceSoundLocation } of sb.DeviceSoundLocation({ deviceId })) {
      heard.push(deviceSoundLocation);
      if (heard.length === count) break;
    }
  } catch (error) {
    // The gateway ended it: the session logged out (UNAUTHENTICATED), or no such device (NOT_FOUND).
    if (errorCode(error) !== 'UNAUTHENTICATED') throw error;
  } finally {
    await sb.close();
  }
  return heard;
}

import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { createSwitchboardClient, DeviceDocument } from '@switchboard/sdk';

/** The SDK: `withErrors` answers `{ data, errors }`; data is null only when nothing was answered. */
export async function roomsWithErrors(endpoint: string, deviceIds: string[]) {
  const sb = createSwitchboardClient(endpoint);
  await sb.LoginNureva({ deviceId: 'room-101', account: 'GENERAL', password: '' });
  const rooms = [];
  for (const id of deviceIds) {
    const { data, errors } = await sb.withErrors.Device({ id });
    // A device without a login: its name, and UNAUTHENTICATED for its audio and hardware.
    rooms.push({ name: data?.device?.name, volume: data?.device?.audio?.speakerVolume, codes: errors.map((e) => e.extensions?.code) });
  }
  return rooms;
}

/** Apollo Client: errorPolicy 'all' keeps the data beside the errors. */
export async function roomWithApollo(uri: string, token: string, id: string) {
  const client = new ApolloClient({ link: new HttpLink({ uri, headers: { authorization: `Bearer ${token}` } }), cache: new InMemoryCache() });
  const { data, error } = await client.query({ query: DeviceDocument, variables: { id }, errorPolicy: 'all' });
  const codes = CombinedGraphQLErrors.is(error) ? error.errors.map((e) => e.extensions?.code) : [];
  return { name: data?.device?.name, volume: data?.device?.audio?.speakerVolume, codes };
}

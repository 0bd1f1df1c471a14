import { GraphQLClient } from 'graphql-request';
import { createSwitchboardClient, errorCode, NuveqUserDocument } from '@switchboard/sdk';

export async function roomVolume(endpoint = 'http://127.0.0.1:4000/graphql') {
  // The SDK: one typed method per operation; it keeps the token each login returns.
  const sb = createSwitchboardClient(endpoint);
  await sb.LoginNureva({ deviceId: 'room-101', account: 'GENERAL', password: '' });
  try {
    const { changeDeviceVolume } = await sb.ChangeDeviceVolume({ deviceId: 'room-101', direction: 'UP' });
    return changeDeviceVolume.speakerVolume;
  } catch (error) {
    if (errorCode(error) === 'RATE_LIMITED') return undefined; // extensions.retryAfter says when
    throw error;
  }
}

export async function oneUser(endpoint: string, token: string, userId: string) {
  // Or plain graphql-request with the typed documents.
  const client = new GraphQLClient(endpoint, { headers: { authorization: `Bearer ${token}` } });
  const { nuveqUser } = await client.request(NuveqUserDocument, { userId });
  return nuveqUser?.name;
}

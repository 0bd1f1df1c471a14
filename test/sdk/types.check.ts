/**
 * Type-level tests, checked by `tsc` in `npm test` (not run by Jest). Each @ts-expect-error must
 * meet a type error: if the generated types ever went loose, the line would compile and tsc
 * would fail on the unused directive.
 */
import { request } from 'graphql-request';
import { createSwitchboardClient, NuveqUserDocument, type NuveqUserQuery } from '../../sdk/src/index.js';

export async function typeLevelChecks(): Promise<void> {
  const sb = createSwitchboardClient('http://127.0.0.1:4000/graphql');

  // @ts-expect-error userId is an ID (string or number), not a boolean
  await sb.NuveqUser({ userId: true });
  // @ts-expect-error userIds holds ids, not objects
  await sb.NuveqUsers({ userIds: [{ id: '1001' }] });
  // @ts-expect-error account must be one of the NurevaAccount values
  await sb.LoginNureva({ deviceId: 'room-101', account: 'ROOT', password: '' });
  // @ts-expect-error email is required
  await sb.LoginClient({ password: 'x' });
  // @ts-expect-error direction is UP or DOWN
  await sb.ChangeDeviceVolume({ deviceId: 'room-101', direction: 'SIDEWAYS' });
  // @ts-expect-error microphoneGain is an Int
  await sb.UpdateDeviceAudio({ deviceId: 'room-101', input: { microphoneGain: 'loud' } });

  const result = await sb.NuveqUser({ userId: '1001' });
  const name: string | null | undefined = result.nuveqUser?.name;
  const department: string | null | undefined = result.nuveqUser?.department?.name;
  // @ts-expect-error the operation does not select such a field
  void result.nuveqUser?.password;

  // The typed documents work with any client: here graphql-request's own `request`.
  const typed: NuveqUserQuery = await request('http://127.0.0.1:4000/graphql', NuveqUserDocument, { userId: '1001' });
  // @ts-expect-error variables are typed too
  await request('http://127.0.0.1:4000/graphql', NuveqUserDocument, { userId: false });
  // Subscriptions: typed iterators, typed variables.
  for await (const event of sb.DeviceConnection({ deviceId: 'room-101' })) {
    const online: boolean = event.deviceConnection.online;
    // @ts-expect-error the subscription does not select such a field
    void event.deviceConnection.password;
    void online;
  }
  // @ts-expect-error deviceId is required
  sb.DeviceEvents({});
  // Errors as data: typed data (possibly null) beside the errors.
  const partial = await sb.withErrors.Devices();
  const ids: string[] | undefined = partial.data?.devices.map((d) => d.id);
  const codes = partial.errors.map((e) => e.extensions?.code);
  // @ts-expect-error data may be null: it must be checked
  void partial.data.devices;
  // @ts-expect-error variables are typed here too
  await sb.withErrors.NuveqUser({ userId: false });
  // @ts-expect-error subscriptions are iterators, not in withErrors
  void sb.withErrors.DeviceEvents;
  await sb.withErrors.Session();
  void [name, department, typed, ids, codes];
}

/**
 * A frontend's own code, as it would use the installed SDK. The package test copies this file into
 * a scratch project outside the repository, type-checks it there with `tsc --noEmit` and runs it
 * against a demo gateway. It is not part of the repository's own compilation (see tsconfig).
 */
import { createSwitchboardClient, errorCode, type DeviceQuery, type PartialResult } from '@switchboard/sdk';

declare const process: { argv: string[] };
const endpoint = process.argv[2] ?? 'http://127.0.0.1:4000/graphql';

const sb = createSwitchboardClient(endpoint);
const login = await sb.LoginNureva({ deviceId: 'room-101', account: 'GENERAL', password: '' });
const device = await sb.Device({ id: 'room-101' });
const changed = await sb.ChangeDeviceVolume({ deviceId: 'room-101', direction: 'UP' });
// No login for the boardroom: its name beside an error for its audio, without a throw.
const partial: PartialResult<DeviceQuery> = await sb.withErrors.Device({ id: 'boardroom' });
const anonymous = await createSwitchboardClient(endpoint).NuveqUser({ userId: '1001' }).catch((error: unknown) => errorCode(error));

// A subscription over the browser's own WebSocket (Node 20: --experimental-websocket).
const live = createSwitchboardClient(endpoint);
await live.LoginNureva({ deviceId: 'room-101', account: 'MONITOR', password: 'monitor-demo' });
const first = await live.DeviceConnection({ deviceId: 'room-101' }).next();
await live.close();

// The types are the contract's, not `any`: each of these must be a type error.
// @ts-expect-error account is one of the NurevaAccount values
void (() => sb.LoginNureva({ deviceId: 'room-101', account: 'ROOT', password: '' }));
// @ts-expect-error the operation does not select such a field
void device.device?.password;
// @ts-expect-error partial data may be null
void partial.data.device;

console.log(
  JSON.stringify({
    token: typeof login.loginNureva.token,
    deviceName: device.device?.name,
    speakerVolume: typeof changed.changeDeviceVolume.speakerVolume,
    partial: { name: partial.data?.device?.name, codes: partial.errors.map((e) => e.extensions?.code) },
    anonymous,
    online: first.value?.deviceConnection.online,
  }),
);

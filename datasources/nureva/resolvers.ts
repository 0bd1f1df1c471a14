import type { Resolvers } from '../../src/__generated__/resolvers-types.js';
import { VENDOR, type NurevaAccountName } from './client.js';

export const nurevaResolvers: Resolvers = {
  Query: {
    devices: (_parent, _args, ctx) => ctx.vendor('nureva').list(),
    device: (_parent, { id }, ctx) => ctx.vendor('nureva').find(id),
  },
  Mutation: {
    loginNureva: async (_parent, { deviceId, account, password }, ctx) => {
      const target = await ctx.loginTarget();
      const login = await ctx.vendor('nureva').login(deviceId, account, password);
      return ctx.attach(target, login);
    },
    updateDeviceAudio: (_parent, { deviceId, input }, ctx) => ctx.vendor('nureva').updateAudio(deviceId, input),
    changeDeviceVolume: (_parent, { deviceId, direction }, ctx) => ctx.vendor('nureva').changeVolume(deviceId, direction),
  },
  Device: {
    __resolveReference: (ref, ctx) => ctx.vendor('nureva').find(String(ref.id)),
    id: (d) => d.id,
    name: (d) => d.name,
    url: (d) => d.url,
    audio: (d, _args, ctx) => ctx.vendor('nureva').audio(d.id),
    hardware: (d, _args, ctx) => ctx.vendor('nureva').hardware(d.id),
  },
  AudioSettings: {
    microphoneMute: (a) => a.microphoneMute ?? null,
    audienceMute: (a) => a.audienceMute ?? null,
    microphoneGain: (a) => a.microphoneGain ?? null,
    speakerVolume: (a) => a.speakerVolume ?? null,
    speakerTrebleLevel: (a) => a.speakerTrebleLevel ?? null,
    speakerBassLevel: (a) => a.speakerBassLevel ?? null,
    echoReductionLevel: (a) => a.echoReductionLevel ?? null,
    noiseReductionLevel: (a) => a.noiseReductionLevel ?? null,
    voiceAmplificationEnabled: (a) => a.voiceAmplificationEnabled ?? null,
    voiceAmplificationLevel: (a) => a.voiceAmplificationLevel ?? null,
  },
  VendorLogin: {
    deviceId: (l) => (typeof l.profile?.deviceId === 'string' ? l.profile.deviceId : null),
    account: (l) => (typeof l.profile?.account === 'string' && l.vendor === VENDOR ? (l.profile.account as NurevaAccountName) : null),
  },
  DeviceHardware: {
    hardwareId: (h) => h.hardwareId ?? null,
    model: (h) => h.model ?? null,
    firmwareVersion: (h) => h.firmwareVersion ?? null,
    deviceStatus: (h) => h.deviceStatus ?? null,
  },
};

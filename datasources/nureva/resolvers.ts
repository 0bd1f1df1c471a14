import type { Resolvers } from '../../src/__generated__/resolvers-types.js';
import { VENDOR, type NurevaAccountName } from './client.js';
import { bool, int, zones, type DataEvent, type MetricsModel, type SoundLocationModel } from './live.js';

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
  Subscription: {
    deviceConnection: {
      subscribe: (_parent, { deviceId }, ctx) => ctx.vendor('nureva').connection(deviceId),
      resolve: (state: unknown) => state as never,
    },
    deviceSoundLocation: {
      subscribe: (_parent, { deviceId }, ctx) => ctx.vendor('nureva').data(deviceId, 'soundLocation'),
      resolve: (event: DataEvent) => event.value as SoundLocationModel,
    },
    deviceMetrics: {
      subscribe: (_parent, { deviceId }, ctx) => ctx.vendor('nureva').data(deviceId, 'metrics'),
      resolve: (event: DataEvent) => event.value as MetricsModel,
    },
    deviceEvents: {
      subscribe: (_parent, { deviceId }, ctx) => ctx.vendor('nureva').events(deviceId, () => ctx.services.metrics.subscriptionEventsDropped.inc({ field: 'deviceEvents' })),
      resolve: (event: unknown) => event as never,
    },
  },
  SoundLocation: {
    azimuth: (s) => int(s.body.azimuth),
    powerLevel: (s) => int(s.body.powerLevel),
    x: (s) => int(s.body.coordinates?.x),
    y: (s) => int(s.body.coordinates?.y),
    triggeredZones: (s) => zones(s.body.triggeredZones),
    voiceDetected: (s) => bool(s.body.flags?.voiceDetected),
    speakerActive: (s) => bool(s.body.flags?.speakerActive),
  },
  DeviceMetrics: {
    backgroundNoise: (m) => int(m.backgroundNoise),
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

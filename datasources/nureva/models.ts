import type { NurevaDeviceConfig } from './config.js';

/** A registered device: the registry entry (NUREVA_DEVICES). */
export type DeviceRecord = NurevaDeviceConfig;

/** `GET /api/v1/audio`. Which fields appear depends on the firmware. */
export interface NurevaAudio {
  microphoneMute?: boolean;
  audienceMute?: boolean;
  microphonePickupState?: string;
  microphoneGain?: number;
  speakerVolume?: number;
  speakerTrebleLevel?: number;
  speakerBassLevel?: number;
  echoReductionLevel?: string;
  noiseReductionLevel?: string;
  auxiliaryOutputState?: string;
  voiceAmplificationEnabled?: boolean;
  voiceAmplificationLevel?: number;
  dynamicBoostEnabled?: boolean;
  microphoneDuckingEnabled?: boolean;
}

/** `GET /api/v1/audio/hardware`. */
export interface NurevaHardware {
  hardwareId?: string;
  model?: string;
  firmwareVersion?: string;
  deviceStatus?: 'Ok' | 'CableUnplugged' | 'Disconnected' | string;
  hardwareComponents?: unknown[];
  ipAddress?: string;
  mac_address?: string;
  enrollmentStatus?: string;
  enrollmentCode?: string;
}

export interface NurevaErrorEnvelope {
  errors?: Array<{ message?: string }>;
}

export type NurevaAccountLower = 'monitor' | 'general' | 'integrator' | 'admin';

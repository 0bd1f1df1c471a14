import { isoFromVendor } from '../../src/datetime.js';
import type { SseEvent } from '../../src/upstream/sse.js';
import type { NurevaHardware } from './models.js';

/**
 * What the device streams say, decoded once per event (not once per subscriber) into the
 * subscription payloads. The documents give the bodies; the SSE event names of the data stream are
 * assumed (`soundLocation`, `deviceMetrics`), so an event is known by its body's shape whatever it
 * is called. Nothing a subscriber receives carries `enrollmentCode` (the admin password by default).
 */

/** A device's reachability (`DeviceConnection`). */
export interface ConnectionState {
  deviceId: string;
  online: boolean;
  /** Epoch ms of the change. */
  at: number;
}

/** `GET /api/v1/data`: a sound location body, as documented. */
export interface NurevaSoundLocation {
  azimuth?: unknown;
  powerLevel?: unknown;
  time?: unknown;
  coordinates?: { x?: unknown; y?: unknown } | null;
  triggeredZones?: unknown;
  flags?: { speakerActive?: unknown; voiceDetected?: unknown } | null;
}

export interface SoundLocationModel {
  deviceId: string;
  /** ISO text from the device's `time`, else the epoch ms the gateway received it. */
  at: string | number;
  body: NurevaSoundLocation;
}

export interface MetricsModel {
  deviceId: string;
  at: number;
  backgroundNoise: unknown;
}

export interface DeviceEventModel {
  deviceId: string;
  at: number;
  source: string;
  hardware: NurevaHardware | null;
  data: string | null;
}

/** One event of the data stream: a sound location or device metrics. */
export type DataEvent = { kind: 'soundLocation'; value: SoundLocationModel } | { kind: 'metrics'; value: MetricsModel };

export const HARDWARE_SOURCE = '/api/v1/audio/hardware';
const SOUND_KEYS = ['azimuth', 'powerLevel', 'coordinates', 'triggeredZones', 'flags'];

function parse(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A data-stream event as a payload, or undefined for one that is neither (or not JSON). */
export function decodeData(deviceId: string, at: number, event: SseEvent): DataEvent | undefined {
  const body = parse(event.data);
  if (!isObject(body)) return undefined;
  const name = event.event.toLowerCase();
  const metrics = name === 'devicemetrics' || (name !== 'soundlocation' && 'backgroundNoise' in body);
  if (metrics) return { kind: 'metrics', value: { deviceId, at, backgroundNoise: body.backgroundNoise } };
  if (name === 'soundlocation' || SOUND_KEYS.some((k) => k in body)) {
    const time = typeof body.time === 'string' ? isoFromVendor(body.time) : null;
    return { kind: 'soundLocation', value: { deviceId, at: time ?? at, body: body as NurevaSoundLocation } };
  }
  return undefined;
}

const ENROLLMENT_CODE = /enrollment_?code/i;

/** Drops every `enrollmentCode` key (in any case), at any depth. */
export function withoutEnrollmentCode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutEnrollmentCode);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (!ENROLLMENT_CODE.test(key)) out[key] = withoutEnrollmentCode(v);
  return out;
}

function looksLikeHardware(body: Record<string, unknown>): boolean {
  return 'deviceStatus' in body && ('hardwareId' in body || 'hardwareComponents' in body);
}

/** An event-stream event as a payload: its name, its body without enrollmentCode, and the hardware when it is that. */
export function decodeEvent(deviceId: string, at: number, event: SseEvent): DeviceEventModel {
  const parsed = parse(event.data);
  const source = event.event;
  if (parsed === undefined) {
    // Not JSON: passed on as text, unless it might carry the code we never pass on.
    const data = event.data === '' || ENROLLMENT_CODE.test(event.data) ? null : event.data;
    return { deviceId, at, source, hardware: null, data };
  }
  const clean = withoutEnrollmentCode(parsed);
  const text = JSON.stringify(clean);
  // Still named somewhere (inside a string, say): nothing of this event's body goes out.
  if (ENROLLMENT_CODE.test(text)) return { deviceId, at, source, hardware: null, data: null };
  const hardware = isObject(clean) && (source === HARDWARE_SOURCE || (source === 'message' && looksLikeHardware(clean))) ? (clean as NurevaHardware) : null;
  return { deviceId, at, source, hardware, data: text };
}

/** A whole number for an Int field, or null (the device may send a fraction, or nothing). */
export function int(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value) : null;
}

export function bool(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null;
}

/** The zones that have an id; label and type as text. */
export function zones(value: unknown): Array<{ id: string; label: string | null; type: string | null }> {
  if (!Array.isArray(value)) return [];
  return value.flatMap((z) => {
    if (!isObject(z) || (typeof z.id !== 'string' && typeof z.id !== 'number') || z.id === '') return [];
    return [{ id: String(z.id), label: typeof z.label === 'string' ? z.label : null, type: typeof z.type === 'string' ? z.type : null }];
  });
}

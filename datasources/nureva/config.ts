import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { isLoopbackHost, type EnvReader } from '../../src/config/env.js';
import { packageInfo } from '../../src/config/package.js';

export interface NurevaDeviceConfig {
  id: string;
  name: string;
  url: string;
  fingerprint256?: string;
  /** PEM text of the CA, read at start-up from the `ca` path. */
  ca?: string;
  insecureTls: boolean;
}

export interface NurevaConfig {
  devices: NurevaDeviceConfig[];
  clientId: string;
  clientVersion: string;
  rateLimit: number;
  /** Event streams the gateway keeps open to one device at once (heartbeat, data and events, per login). */
  streamsPerDevice: number;
}

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/i;

const deviceSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/, 'id must match [a-z0-9-]+'),
    name: z.string().min(1, 'name is required'),
    url: z.string(),
    fingerprint256: z.string().regex(FINGERPRINT, 'fingerprint256 must be 32 colon-separated hex bytes (as Node prints it)').optional(),
    ca: z.string().min(1).optional(),
    insecureTls: z.boolean().optional(),
  })
  .strict();

/** NUREVA_*: the device registry is required; the client headers default to this package's name and version. */
export function readNurevaConfig(env: EnvReader): NurevaConfig | undefined {
  const devices = readDevices(env);
  const clientId = env.string('NUREVA_CLIENT_ID', packageInfo().name);
  const clientVersion = env.string('NUREVA_CLIENT_VERSION', packageInfo().version);
  if (clientId.length > 500) env.problem('NUREVA_CLIENT_ID', 'at most 500 characters');
  if (clientVersion.length > 500) env.problem('NUREVA_CLIENT_VERSION', 'at most 500 characters');
  const rateLimit = env.int('NUREVA_RATE_LIMIT', 600, 1);
  const streamsPerDevice = env.int('NUREVA_STREAMS_PER_DEVICE', 6, 1, 60);
  return devices && { devices, clientId, clientVersion, rateLimit, streamsPerDevice };
}

/** NUREVA_DEVICES as JSON text, or `@file` (its `ca` paths then relative to that file). */
function devicesText(env: EnvReader): { text: string; baseDir: string } | undefined {
  const raw = env.required('NUREVA_DEVICES', 'is required (a JSON array, or @path/to/devices.json)');
  if (raw === undefined) return undefined;
  if (!raw.startsWith('@')) return { text: raw, baseDir: env.cwd };
  const file = resolve(env.cwd, raw.slice(1));
  if (!existsSync(file)) {
    env.problem('NUREVA_DEVICES', 'the file it names does not exist');
    return undefined;
  }
  return { text: readFileSync(file, 'utf8'), baseDir: resolve(file, '..') };
}

function readDevices(env: EnvReader): NurevaDeviceConfig[] | undefined {
  const source = devicesText(env);
  if (!source) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(source.text);
  } catch {
    env.problem('NUREVA_DEVICES', 'is not valid JSON');
    return undefined;
  }
  if (!Array.isArray(parsed)) {
    env.problem('NUREVA_DEVICES', 'must be a JSON array of devices');
    return undefined;
  }
  const before = env.problems.length;
  const seen = new Set<string>();
  const devices = parsed.flatMap((entry, i) => {
    const device = readDevice(env, `NUREVA_DEVICES[${i}]`, entry, source.baseDir);
    if (device && seen.has(device.id)) env.problem(`NUREVA_DEVICES[${i}].id`, 'duplicate device id');
    if (device) seen.add(device.id);
    return device ? [device] : [];
  });
  return env.problems.length === before ? devices : undefined;
}

function readDevice(env: EnvReader, where: string, entry: unknown, baseDir: string): NurevaDeviceConfig | undefined {
  const r = deviceSchema.safeParse(entry);
  if (!r.success) {
    for (const issue of r.error.issues) {
      const field = issue.path.join('.');
      const msg = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message.replace(/received .*$/, '').trim();
      env.problem(`${where}${field ? `.${field}` : ''}`, msg);
    }
    return undefined;
  }
  const d = r.data;
  let u: URL;
  try {
    u = new URL(d.url);
  } catch {
    env.problem(`${where}.url`, 'must be an https:// URL');
    return undefined;
  }
  if (u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search) env.problem(`${where}.url`, 'must be the device origin only, e.g. https://10.0.0.1');
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) env.problem(`${where}.url`, 'plain http:// is allowed only for loopback');
  else if (u.protocol !== 'http:' && u.protocol !== 'https:') env.problem(`${where}.url`, 'must be an https:// URL');
  let ca: string | undefined;
  if (d.ca !== undefined) {
    const file = resolve(baseDir, d.ca);
    if (!existsSync(file)) env.problem(`${where}.ca`, 'the file it names does not exist');
    // An empty or non-PEM file must not read as "no CA", which would leave nothing to verify against.
    else if (!/-----BEGIN CERTIFICATE-----/.test((ca = readFileSync(file, 'utf8')))) env.problem(`${where}.ca`, 'the file holds no PEM certificate');
  }
  if (u.protocol === 'https:' && !d.fingerprint256 && d.ca === undefined && d.insecureTls !== true) {
    env.problem(where, 'an https device needs fingerprint256, ca, or an explicit "insecureTls": true');
  }
  return { id: d.id, name: d.name, url: u.origin, fingerprint256: d.fingerprint256?.toUpperCase(), ca, insecureTls: d.insecureTls === true };
}

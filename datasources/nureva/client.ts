import { Coalescer } from '../../src/upstream/coalesce.js';
import type { TLSSocket } from 'node:tls';
import { buildConnector } from 'undici';
import type { VendorDeps } from '../../src/vendors/module.js';
import { upstreamDefaults } from '../../src/vendors/upstream-defaults.js';
import { VendorApi, safeJson } from '../../src/upstream/vendor-api.js';
import type { NurevaConfig, NurevaDeviceConfig } from './config.js';
import {
  BadUserInputError,
  ForbiddenError,
  NotFoundError,
  SwitchboardError,
  UnauthenticatedError,
  UpstreamError,
  errorFromStatus,
  vendorMessage,
} from '../../src/errors.js';
import { CertificateMismatchError, UpstreamClient, type HttpMethod, type UpstreamCall, type UpstreamResponse } from '../../src/upstream/client.js';
import type { RateRule } from '../../src/limits/rate-limiter.js';
import type { CallScope } from '../../src/limits/request-scope.js';
import { validatePassword } from '../../src/limits/input.js';
import type { StoredLogin } from '../../src/auth/sessions.js';
import type { TokenGrant } from '../../src/auth/token-cache.js';
import type { DeviceRecord, NurevaErrorEnvelope } from './models.js';
import type { StreamListener } from '../../src/upstream/sse.js';
import { DeviceStreams, STREAM_PATHS, type StreamName, type StreamOpener } from './streams.js';

export const VENDOR = 'NUREVA';
export type NurevaAccountName = 'MONITOR' | 'GENERAL' | 'INTEGRATOR' | 'ADMIN';
export const ACCOUNT_RANK: Record<NurevaAccountName, number> = { MONITOR: 0, GENERAL: 1, INTEGRATOR: 2, ADMIN: 3 };
/** authParameters are opaque and carry no expiry: keep them half a day, or until a 401. */
export const AUTH_TTL_MS = 12 * 3_600_000;

export const nurevaSlot = (deviceId: string) => `NUREVA:${deviceId}`;
/** The device sends a heartbeat every 5 s: two missed, and a little slack, is offline (contract: within 12 s). */
export const HEARTBEAT_TIMEOUT_MS = 11_000;
/** The device's documented limit on stream requests. */
export const STREAM_REQUESTS_PER_MINUTE = 60;

export interface AudioInput {
  microphoneMute?: boolean | null;
  audienceMute?: boolean | null;
  microphoneGain?: number | null;
  speakerTrebleLevel?: number | null;
  speakerBassLevel?: number | null;
  echoReductionLevel?: string | null;
  noiseReductionLevel?: string | null;
  voiceAmplificationEnabled?: boolean | null;
  voiceAmplificationLevel?: number | null;
}

const RANGES: Partial<Record<keyof AudioInput, [number, number]>> = {
  microphoneGain: [-6, 12],
  speakerTrebleLevel: [0, 100],
  speakerBassLevel: [0, 100],
  voiceAmplificationLevel: [0, 40],
};
const LEVELS = ['Low', 'Medium', 'High'];

/** Checks every field before any call; the device remains the final judge of what it supports. */
export function validateAudioInput(input: AudioInput): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(input) as Array<[keyof AudioInput, unknown]>) {
    if (value === undefined) continue;
    if (value === null) throw new BadUserInputError(`${field}: a device setting cannot be null; leave it out to keep it`, field, { vendor: VENDOR });
    const range = RANGES[field];
    if (range && (typeof value !== 'number' || value < range[0] || value > range[1])) {
      throw new BadUserInputError(`${field}: must be from ${range[0]} to ${range[1]}`, field, { vendor: VENDOR });
    }
    if ((field === 'echoReductionLevel' || field === 'noiseReductionLevel') && !LEVELS.includes(value as string)) {
      throw new BadUserInputError(`${field}: must be Low, Medium or High`, field, { vendor: VENDOR });
    }
    body[field] = value;
  }
  if (Object.keys(body).length === 0) throw new BadUserInputError('input: give at least one setting to change', 'input', { vendor: VENDOR });
  return body;
}

/** The device's one documented 400: the `Nureva-Client-Id`/`-Version` headers missing or too long. */
const CLIENT_HEADERS = /Nureva-Client-(Id|Version)/i;

/**
 * Certificate pinning: the TLS handshake completes, the peer certificate's SHA-256 fingerprint is
 * compared with the registry's, and on a mismatch the socket is destroyed before undici writes a
 * single byte of the request, so no password ever reaches an impostor.
 */
export function pinnedConnector(fingerprint256: string, timeoutMs: number): buildConnector.connector {
  // No session resumption: a resumed TLS session carries no peer certificate to check. The
  // timeout covers TCP and the TLS handshake; undici's own default (10 s) would outlast ours.
  const base = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0, timeout: timeoutMs });
  const expected = fingerprint256.toUpperCase();
  return (options, callback) =>
    base(options, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('TLS connection failed'), null);
      const actual = (socket as TLSSocket).getPeerCertificate?.()?.fingerprint256?.toUpperCase();
      if (actual !== expected) {
        socket.destroy();
        return callback(new CertificateMismatchError(), null);
      }
      return callback(null, socket);
    });
}

/** How to reach a device; the upstream client adds the vendor timeout to TCP and TLS (a pinning connector carries its own). */
function connectFor(device: NurevaDeviceConfig, timeoutMs: number): buildConnector.BuildOptions | buildConnector.connector | undefined {
  if (!device.url.startsWith('https:')) return undefined;
  if (device.fingerprint256) return pinnedConnector(device.fingerprint256, timeoutMs);
  // Any CA given, even an empty one, means "verify": only an explicit insecureTls turns checks off.
  if (device.ca !== undefined) return { ca: device.ca, rejectUnauthorized: true };
  return { rejectUnauthorized: !device.insecureTls };
}

interface DeviceClient {
  device: DeviceRecord;
  http: UpstreamClient;
  /** The device's event streams, on connections of their own (a stream holds its connection for as long as it lasts). */
  streams: UpstreamClient;
}

/**
 * Nureva HDL310/410 bars, each its own REST API. Only devices in NUREVA_DEVICES exist for the
 * gateway: every lookup goes through the registry by id, and each device's connection pool is
 * bound to its registered origin, so no input can steer a request anywhere else.
 */
export class NurevaClient extends VendorApi implements StreamOpener {
  protected readonly vendor = VENDOR;
  private readonly registry = new Map<string, DeviceClient>();
  private readonly rules: RateRule[];
  /** Device reads in flight, shared by callers with the same credentials (see NurevaDataSource.read). */
  readonly reads = new Coalescer();

  constructor(
    readonly config: NurevaConfig,
    private readonly deps: VendorDeps,
  ) {
    super();
    this.rules = [{ limit: config.rateLimit, windowMs: 60_000 }];
    for (const device of config.devices) {
      if (device.insecureTls && !device.fingerprint256 && device.ca === undefined) {
        deps.logger.warn({ vendor: VENDOR, device: device.id }, 'TLS certificate checks are OFF for this Nureva device (insecureTls: true)');
      }
      const common = {
        vendor: VENDOR,
        baseUrl: device.url,
        ...upstreamDefaults(deps),
        limiter: deps.limiter,
        connect: connectFor(device, deps.gateway.upstreamTimeoutMs),
        throttleStatuses: [429, 409],
      };
      const http = new UpstreamClient({ ...common, connections: 8 });
      const streams = new UpstreamClient({ ...common, connections: config.streamsPerDevice, maxResponseBytes: -1 });
      this.registry.set(device.id, { device, http, streams });
    }
    this.streams = new DeviceStreams(this, deps, {
      perDevice: config.streamsPerDevice,
      eventBuffer: deps.gateway.subscriptionEventBuffer,
      heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
      requestsPerMinute: STREAM_REQUESTS_PER_MINUTE,
      dataIdleMs: 30_000,
      eventsIdleMs: 300_000,
      // Two thirds of the 60 a minute; the rest is kept for reopening streams that broke.
      opensPerMinute: 40,
      lingerMs: 1000,
      firstStateMs: 4000,
    });
  }

  /** The shared device streams behind the subscriptions. */
  readonly streams: DeviceStreams;

  async close(): Promise<void> {
    // Streams first: a pool closes once its requests end, and a stream only ends when closed.
    this.streams.close();
    await Promise.all([...this.registry.values()].flatMap((d) => [d.http.close(), d.streams.close()]));
  }

  /** Opens one of a registered device's event streams (the caller has checked the device and the login). */
  openStream(deviceId: string, name: StreamName, token: string | undefined, listener: StreamListener, idleMs: number): { close(): void } {
    const headers: Record<string, string> = this.headers();
    if (token !== undefined) headers.authorization = `Nureva ${token}`;
    return this.entry(deviceId).streams.openStream({ operation: `stream.${name}`, path: STREAM_PATHS[name], headers, idleMs }, listener);
  }

  list(): DeviceRecord[] {
    return [...this.registry.values()].map((d) => d.device);
  }

  find(id: string): DeviceRecord | undefined {
    return this.registry.get(id)?.device;
  }

  /** The registered device, or NOT_FOUND; nothing is contacted for an unknown id. */
  entry(id: string): DeviceClient {
    const d = this.registry.get(id);
    if (!d) throw new NotFoundError('No registered Nureva device has this id', { vendor: VENDOR });
    return d;
  }

  tokenKey(deviceId: string, account: NurevaAccountName, password: string): string {
    const { device } = this.entry(deviceId);
    return this.deps.tokens.key(VENDOR, device.id, device.url, account, password);
  }

  private headers(): Record<string, string> {
    return { 'nureva-client-id': this.config.clientId, 'nureva-client-version': this.config.clientVersion };
  }

  async send(
    deviceId: string,
    operation: string,
    method: HttpMethod,
    path: string,
    init: { json?: unknown; auth?: UpstreamCall['auth']; read?: boolean; scope?: CallScope } = {},
  ): Promise<UpstreamResponse> {
    const { http } = this.entry(deviceId);
    return http.request({
      operation,
      method,
      path,
      json: init.json,
      headers: this.headers(),
      auth: init.auth,
      read: init.read,
      scope: init.scope,
      rate: { key: `nureva:${deviceId}`, rules: this.rules },
    });
  }

  /** `POST /api/v1/auth/login` with the lowercase account. */
  login(deviceId: string, account: NurevaAccountName, password: string): () => Promise<TokenGrant> {
    return async () => {
      const res = await this.send(deviceId, 'auth.login', 'POST', '/api/v1/auth/login', { json: { account: account.toLowerCase(), password } });
      // The docs do not say which status a refused login gets: any of these means wrong
      // credentials or a disabled account, except the one documented 400, for our missing headers.
      if ((res.status === 400 && !CLIENT_HEADERS.test(res.text)) || res.status === 401 || res.status === 403) {
        throw new UnauthenticatedError('The device refused this account and password (wrong password, or the account is disabled)', { vendor: VENDOR });
      }
      const body = this.json<{ authParameters?: unknown }>(this.expect(res));
      if (typeof body.authParameters !== 'string' || !body.authParameters) throw new UpstreamError(VENDOR, 'The device login answer has no authParameters');
      return { token: body.authParameters };
    };
  }

  /** The device account of a session's login (GENERAL for a login kept before accounts were). */
  account(login: StoredLogin): NurevaAccountName {
    const account = login.profile?.account;
    return typeof account === 'string' && account in ACCOUNT_RANK ? (account as NurevaAccountName) : 'GENERAL';
  }

  password(login: StoredLogin): string {
    const sealed = this.deps.sealer.openJson<{ password: string }>(login.sealed);
    if (!sealed) throw new UnauthenticatedError('The Nureva login of this session is unusable; log in again', { vendor: VENDOR });
    return sealed.password;
  }

  /** The one place device answers become gateway errors. */
  errorFromResponse(res: UpstreamResponse): SwitchboardError {
    const message = safeJson<NurevaErrorEnvelope>(res)?.errors?.[0]?.message ?? (res.text.trim() || undefined);
    if (res.status === 400 && CLIENT_HEADERS.test(message ?? '')) {
      this.deps.logger.error({ vendor: VENDOR, status: res.status }, 'A Nureva device refused the gateway\'s client headers: check NUREVA_CLIENT_ID and NUREVA_CLIENT_VERSION');
      return new UpstreamError(VENDOR, 'The device refused the gateway configuration; the operator has been notified');
    }
    const unsupported = /Unsupported Attributes?:\s*([\w,\s]+)\.?/i.exec(message ?? '');
    if (res.status === 400 && unsupported) {
      const field = unsupported[1]!.split(',')[0]!.trim();
      return new BadUserInputError(`${field}: this device does not support this setting`, field, { vendor: VENDOR });
    }
    if (res.status === 403) return new ForbiddenError('This device account may not do that', { vendor: VENDOR, detail: res.text });
    if (res.status === 401) return new UnauthenticatedError('The device no longer accepts this login; log in again', { vendor: VENDOR, detail: res.text });
    return errorFromStatus(VENDOR, { status: res.status, message, payload: res.text });
  }

  toLogin(deviceId: string, account: NurevaAccountName, password: string, tokenKey: string): StoredLogin {
    return {
      vendor: VENDOR,
      slot: nurevaSlot(deviceId),
      subject: `${account.toLowerCase()}@${deviceId}`,
      // Shown as the session's VendorLogin deviceId and account.
      profile: { deviceId, account },
      tokenKey,
      sealed: this.deps.sealer.sealJson({ password }),
    };
  }
}


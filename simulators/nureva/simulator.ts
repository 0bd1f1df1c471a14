import { randomBytes, randomInt, X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { SlidingLog } from '../../src/limits/sliding-log.js';
import { Simulator, type SimReply, type SimRequest, type SimulatorOptions } from '../server.js';
import { systemClock } from '../../src/clock.js';
import { DeviceStreamsSim, type StreamOptions } from './streams.js';
import type { NurevaAccountLower, NurevaAudio } from '../../datasources/nureva/models.js';

/**
 * One Nureva HDL310/HDL410 bar: HTTPS with a self-signed certificate made at start, the client
 * headers it insists on, its four accounts with their factory defaults, opaque authParameters it
 * can rotate, audio ranges and volume steps. Rights per endpoint and the 403 below them are
 * assumed (the public docs only order the accounts), hence the `rights` option.
 */

export type NurevaRoute = 'GET /api/v1/audio' | 'PATCH /api/v1/audio' | 'PUT /api/v1/audio/volume/change' | 'GET /api/v1/audio/hardware' | 'GET /api/v1/data' | 'GET /api/v1/events';

/**
 * The least account each endpoint needs. Assumed: the docs put "audio settings" in `general`'s
 * day-to-day operations and give `monitor` read access to data streams, nothing per endpoint.
 */
export const DEFAULT_RIGHTS: Readonly<Record<NurevaRoute, NurevaAccountLower>> = {
  'GET /api/v1/audio': 'monitor',
  'PATCH /api/v1/audio': 'general',
  'PUT /api/v1/audio/volume/change': 'general',
  'GET /api/v1/audio/hardware': 'monitor',
  // Documented minimum roles of the two streams that need a login.
  'GET /api/v1/data': 'monitor',
  'GET /api/v1/events': 'general',
};

export interface AccountState {
  enabled: boolean;
  password: string;
}

export interface NurevaSimOptions extends Omit<SimulatorOptions, 'tls'>, StreamOptions {
  /** Serve plain HTTP instead (loopback tests of the http path only). */
  plainHttp?: boolean;
  enrollmentCode?: string;
  accounts?: Partial<Record<NurevaAccountLower, Partial<AccountState>>>;
  /** Fields this firmware supports; PATCHing another gives 400 Unsupported Attributes. */
  supportedFields?: Array<keyof NurevaAudio>;
  rateLimit?: number;
  /** Stream requests a minute (documented: 60, apart from the 600 of the other calls). */
  streamRateLimit?: number;
  /** The throttle answer: 429 (the API reference) or 409 (one guide). */
  throttleStatus?: 429 | 409;
  /** Assumed: the throttle answer carries Retry-After (off by default: the documents name none). */
  throttleRetryAfter?: boolean;
  /** Assumed: an account below an endpoint's rights gets 403 (default); 401 is the other reading. */
  belowRightsStatus?: 403 | 401;
  /** The body of a 401 (assumed): the documented errors envelope by default, or none. */
  unauthorizedBody?: 'errors' | 'empty';
  model?: 'hdl310' | 'hdl410';
  /** The least account per endpoint (assumed; see DEFAULT_RIGHTS); a lower one gets 403. */
  rights?: Partial<Record<NurevaRoute, NurevaAccountLower>>;
  /**
   * Fields a PATCH may not set (400 Unsupported Attributes). The docs name only `speakerVolume`
   * (changed through volume/change); they are silent on the others.
   */
  readOnlyFields?: Array<keyof NurevaAudio>;
}

const RANK: Record<NurevaAccountLower, number> = { monitor: 0, general: 1, integrator: 2, admin: 3 };
/** The JSON type of each field a PATCH may carry; the value sets of the two states are undocumented (any string, assumed). */
const FIELD_TYPES: Record<keyof NurevaAudio, 'boolean' | 'number' | 'string'> = {
  microphoneMute: 'boolean',
  audienceMute: 'boolean',
  microphonePickupState: 'string',
  microphoneGain: 'number',
  speakerVolume: 'number',
  speakerTrebleLevel: 'number',
  speakerBassLevel: 'number',
  echoReductionLevel: 'string',
  noiseReductionLevel: 'string',
  auxiliaryOutputState: 'string',
  voiceAmplificationEnabled: 'boolean',
  voiceAmplificationLevel: 'number',
  dynamicBoostEnabled: 'boolean',
  microphoneDuckingEnabled: 'boolean',
};
const ALL_FIELDS = Object.keys(FIELD_TYPES) as Array<keyof NurevaAudio>;

function errors(status: number, message: string, headers?: Record<string, string>): SimReply {
  return { status, headers, json: { errors: [{ message }] } };
}

/** A self-signed certificate for 127.0.0.1 and localhost, and its fingerprint as Node prints it. */
export async function selfSignedCertificate(): Promise<{ key: string; cert: string; fingerprint256: string }> {
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 30 * 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
  });
  return { key: pems.private, cert: pems.cert, fingerprint256: new X509Certificate(pems.cert).fingerprint256 };
}

export class NurevaSimulator extends Simulator {
  readonly accounts: Record<NurevaAccountLower, AccountState>;
  readonly enrollmentCode: string;
  audio: NurevaAudio;
  readonly supported: Set<keyof NurevaAudio>;
  rateLimit: number;
  throttleStatus: 429 | 409;
  throttleRetryAfter: boolean;
  belowRightsStatus: 403 | 401;
  unauthorizedBody: 'errors' | 'empty';
  /** Logins answered 200. */
  logins = 0;
  readonly fingerprint256: string;
  /** The device certificate (PEM), e.g. to register it as a CA. */
  readonly certificate: string;
  /** The device's event streams (heartbeat, data, events). */
  readonly streams: DeviceStreamsSim;
  streamRateLimit: number;
  /** Stream requests refused for passing the 60 a minute. */
  refusedStreams = 0;
  /** `deviceStatus` of the hardware: a pulled cable shows, and is streamed. */
  deviceStatus: 'Ok' | 'CableUnplugged' | 'Disconnected' = 'Ok';
  private readonly tokens = new Map<string, NurevaAccountLower>();
  private readonly arrivals = new SlidingLog();
  private readonly streamArrivals = new SlidingLog();
  private readonly model: string;
  private readonly rights: Record<NurevaRoute, NurevaAccountLower>;
  private readonly readOnly: Set<keyof NurevaAudio>;

  private constructor(options: NurevaSimOptions, tls: { key: string; cert: string; fingerprint256: string } | undefined) {
    super('nureva', { ...options, tls: tls ? { key: tls.key, cert: tls.cert } : undefined });
    this.fingerprint256 = tls?.fingerprint256 ?? '';
    this.certificate = tls?.cert ?? '';
    this.enrollmentCode = options.enrollmentCode ?? 'ABC-DEF-GHJ';
    const a = options.accounts ?? {};
    this.accounts = {
      monitor: { enabled: false, password: '', ...a.monitor },
      general: { enabled: true, password: '', ...a.general },
      integrator: { enabled: false, password: '', ...a.integrator },
      admin: { enabled: true, password: this.enrollmentCode, ...a.admin },
    };
    this.supported = new Set(options.supportedFields ?? ALL_FIELDS);
    this.rateLimit = options.rateLimit ?? 600;
    this.streamRateLimit = options.streamRateLimit ?? 60;
    this.streams = new DeviceStreamsSim(options, options.model ?? 'hdl410', options.clock ?? systemClock);
    this.throttleStatus = options.throttleStatus ?? 429;
    this.throttleRetryAfter = options.throttleRetryAfter ?? false;
    this.belowRightsStatus = options.belowRightsStatus ?? 403;
    this.unauthorizedBody = options.unauthorizedBody ?? 'errors';
    this.model = options.model ?? 'hdl410';
    this.rights = { ...DEFAULT_RIGHTS, ...options.rights };
    this.readOnly = new Set(options.readOnlyFields ?? ['speakerVolume']);
    const all: NurevaAudio = {
      microphoneMute: false,
      audienceMute: false,
      microphonePickupState: 'Active',
      microphoneGain: 0,
      speakerVolume: 50,
      speakerTrebleLevel: 50,
      speakerBassLevel: 50,
      echoReductionLevel: 'Medium',
      noiseReductionLevel: 'Medium',
      auxiliaryOutputState: 'Off',
      voiceAmplificationEnabled: false,
      voiceAmplificationLevel: 10,
      dynamicBoostEnabled: false,
      microphoneDuckingEnabled: false,
    };
    this.audio = Object.fromEntries(Object.entries(all).filter(([k]) => this.supported.has(k as keyof NurevaAudio))) as NurevaAudio;

    this.route('GET', '/api/v1', (req) => this.gate(req, () => ({ status: 200, json: { apiVersion: 'v1', model: this.model, endpoints: ['/api/v1/audio', '/api/v1/audio/hardware'] } })));
    this.route('POST', '/api/v1/auth/login', (req) => this.gate(req, () => this.login(req)));
    this.route('GET', '/api/v1/audio', (req) => this.gate(req, () => this.authorized(req, 'GET /api/v1/audio', () => ({ status: 200, json: this.audio }))));
    this.route('PATCH', '/api/v1/audio', (req) => this.gate(req, () => this.authorized(req, 'PATCH /api/v1/audio', () => this.patch(req))));
    this.route('PUT', '/api/v1/audio/volume/change', (req) => this.gate(req, () => this.authorized(req, 'PUT /api/v1/audio/volume/change', () => this.volume(req))));
    this.route('GET', '/api/v1/audio/hardware', (req) => this.gate(req, () => this.authorized(req, 'GET /api/v1/audio/hardware', (account) => this.hardware(account))));
    this.route('GET', '/api/v1/heartbeat', (req) => this.gate(req, () => this.streams.heartbeat(), true));
    this.route('GET', '/api/v1/data', (req) => this.gate(req, () => this.authorized(req, 'GET /api/v1/data', (account) => this.streams.data(account, req.query.get('events'))), true));
    this.route('GET', '/api/v1/events', (req) => this.gate(req, () => this.authorized(req, 'GET /api/v1/events', (account) => this.streams.events(account)), true));
  }

  /** Unplugs (or plugs back) a cable: the hardware status changes and the event stream says so. */
  pullCable(unplugged = true): void {
    this.deviceStatus = unplugged ? 'CableUnplugged' : 'Ok';
    this.streams.emit('/api/v1/audio/hardware', (account) => this.hardwareBody(account as NurevaAccountLower));
  }

  override async stop(): Promise<void> {
    this.streams.close();
    await super.stop();
  }

  // Assumed: the device checks the client headers before it looks at the route.
  protected override notFound(req: SimRequest): SimReply | Promise<SimReply> {
    return this.gate(req, () => super.notFound(req));
  }

  /** The device's own error format, for the simulator's 404, 405 and 500 answers too. */
  protected override errorReply(status: number, message: string): SimReply {
    return errors(status, message);
  }

  protected override methodNotAllowed(req: SimRequest): SimReply | Promise<SimReply> {
    return this.gate(req, () => super.methodNotAllowed(req));
  }

  /** Generates the device certificate (HTTPS) before the server can start. */
  static async create(options: NurevaSimOptions = {}): Promise<NurevaSimulator> {
    return new NurevaSimulator(options, options.plainHttp ? undefined : await selfSignedCertificate());
  }

  protected override throttleReply(): SimReply {
    return errors(this.throttleStatus, 'Too many requests. Rate limit is exceeded', this.throttleRetryAfter ? { 'retry-after': '1' } : undefined);
  }

  /** Invalidates every authParameters issued, as a device does when account details change. */
  rotateTokens(): void {
    this.tokens.clear();
  }

  /** Client headers first (400 without them), then the budget: 600/min, or 60/min for stream requests. */
  private gate(req: SimRequest, next: () => SimReply | Promise<SimReply>, stream = false): SimReply | Promise<SimReply> {
    for (const header of ['nureva-client-id', 'nureva-client-version']) {
      const v = req.headers[header];
      const name = header === 'nureva-client-id' ? 'Nureva-Client-Id' : 'Nureva-Client-Version';
      if (typeof v !== 'string' || !v) return errors(400, `RESTApi: ${name} is missing`);
      if (v.length > 500) return errors(400, `RESTApi: ${name} is too long`);
    }
    const [log, limit] = stream ? [this.streamArrivals, this.streamRateLimit] : [this.arrivals, this.rateLimit];
    log.prune(req.time - 60_000);
    if (log.size >= limit) {
      if (stream) this.refusedStreams++;
      return this.throttleReply();
    }
    log.add(req.time);
    return next();
  }

  private login(req: SimRequest): SimReply {
    const b = req.json as { account?: unknown; password?: unknown } | undefined;
    if (!b || typeof b.account !== 'string' || typeof b.password !== 'string') return errors(400, 'account and password are required');
    const account = b.account as NurevaAccountLower;
    const state = Object.hasOwn(this.accounts, account) ? this.accounts[account] : undefined;
    if (!state || !state.enabled || state.password !== b.password) return errors(401, 'Invalid account or password');
    this.logins++;
    // Opaque: shaped like the real ones (base64 text), but random, so rotation means something.
    const token = Buffer.from(`${account}:${randomBytes(12).toString('hex')}`).toString('base64');
    this.tokens.set(token, account);
    return { status: 200, json: { authParameters: token } };
  }

  private authorized(req: SimRequest, route: NurevaRoute, next: (account: NurevaAccountLower) => SimReply): SimReply {
    // Assumed: a stream request with a missing or stale token gets 401 before any event.
    const auth = String(req.headers.authorization ?? '');
    const account = auth.startsWith('Nureva ') ? this.tokens.get(auth.slice(7)) : undefined;
    if (!account) return this.unauthorizedBody === 'empty' ? { status: 401, text: '' } : errors(401, 'Unauthorized');
    if (RANK[account] < RANK[this.rights[route]]) return errors(this.belowRightsStatus, `The ${account} account may not do this`);
    return next(account);
  }

  private patch(req: SimRequest): SimReply {
    const b = req.json as Record<string, unknown> | undefined;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return errors(400, 'A JSON object body is required');
    const unsupported = Object.keys(b).filter((k) => !this.supported.has(k as keyof NurevaAudio) || this.readOnly.has(k as keyof NurevaAudio));
    if (unsupported.length) return errors(400, `Unsupported Attributes: ${unsupported.join(', ')}.`);
    for (const [k, v] of Object.entries(b)) {
      const type = FIELD_TYPES[k as keyof NurevaAudio];
      if (typeof v !== type) return errors(400, `${k} must be a ${type}`);
    }
    const range = (k: string, lo: number, hi: number) => k in b && (typeof b[k] !== 'number' || !Number.isInteger(b[k]) || (b[k] as number) < lo || (b[k] as number) > hi);
    if (range('microphoneGain', -6, 12)) return errors(400, 'microphoneGain must be between -6 and 12');
    if (range('speakerTrebleLevel', 0, 100) || range('speakerBassLevel', 0, 100)) return errors(400, 'Speaker levels must be between 0 and 100');
    if (range('voiceAmplificationLevel', 0, 40)) return errors(400, 'voiceAmplificationLevel must be between 0 and 40');
    for (const k of ['echoReductionLevel', 'noiseReductionLevel']) {
      if (k in b && !['Low', 'Medium', 'High'].includes(b[k] as string)) return errors(400, `${k} must be Low, Medium or High`);
    }
    this.audio = { ...this.audio, ...(b as NurevaAudio) };
    return { status: 200, json: this.audio };
  }

  private volume(req: SimRequest): SimReply {
    const op = (req.json as { operation?: unknown } | undefined)?.operation;
    if (op !== 'increment' && op !== 'decrement') return errors(400, 'operation must be increment or decrement');
    const step = randomInt(4, 7);
    const current = this.audio.speakerVolume ?? 50;
    this.audio = { ...this.audio, speakerVolume: Math.max(0, Math.min(100, current + (op === 'increment' ? step : -step))) };
    return { status: 200, json: { speakerVolume: this.audio.speakerVolume } };
  }

  private hardware(account: NurevaAccountLower): SimReply {
    return { status: 200, json: this.hardwareBody(account) };
  }

  private hardwareBody(account: NurevaAccountLower): Record<string, unknown> {
    return {
      hardwareId: `HW-${this.model.toUpperCase()}-${this.url.split(':').pop()}`,
      model: this.model,
      firmwareVersion: '2.7.1',
      deviceStatus: this.deviceStatus,
      hardwareComponents: [{ type: 'microphone', status: 'Ok' }, { type: 'speaker', status: this.deviceStatus === 'Ok' ? 'Ok' : 'Disconnected' }],
      ipAddress: '127.0.0.1',
      mac_address: '00:1B:2C:3D:4E:5F',
      enrollmentStatus: 'Enrolled',
      enrollmentCode: account === 'admin' ? this.enrollmentCode : '',
    };
  }
}

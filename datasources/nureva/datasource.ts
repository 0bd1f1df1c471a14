import DataLoader from 'dataloader';
import type { SessionRecord, StoredLogin } from '../../src/auth/sessions.js';
import { withTokenRetry } from '../../src/auth/token-cache.js';
import { ForbiddenError, UnauthenticatedError } from '../../src/errors.js';
import { validatePassword } from '../../src/limits/input.js';
import type { HttpMethod, UpstreamResponse } from '../../src/upstream/client.js';
import type { CallScope } from '../../src/limits/request-scope.js';
import type { VendorRequest } from '../../src/vendors/module.js';
import { ACCOUNT_RANK, AUTH_TTL_MS, nurevaSlot, validateAudioInput, VENDOR, type AudioInput, type NurevaAccountName, type NurevaClient } from './client.js';
import type { DeviceRecord, NurevaAudio, NurevaHardware } from './models.js';
import type { Channel } from '../../src/subscriptions/channel.js';
import type { ConnectionState, DataEvent, DeviceEventModel } from './live.js';
import type { StreamLogin } from './streams.js';
import { settleAll } from '../../src/settle.js';

/** Per-request face: audio and hardware loaded once per device per request. */
export class NurevaDataSource {
  private readonly audioLoader: DataLoader<string, NurevaAudio>;
  private readonly hardwareLoader: DataLoader<string, NurevaHardware>;

  constructor(
    private readonly client: NurevaClient,
    private readonly ctx: VendorRequest,
  ) {
    // A device that fails is an error at its own index, not for the whole batch.
    const each = <T>(load: (id: string) => Promise<T>) => (ids: readonly string[]) => settleAll(ids.map(load));
    this.audioLoader = new DataLoader(each((id) => this.read<NurevaAudio>(id, 'audio.get', '/api/v1/audio')));
    this.hardwareLoader = new DataLoader(each((id) => this.read<NurevaHardware>(id, 'audio.hardware', '/api/v1/audio/hardware')));
  }

  list(): DeviceRecord[] {
    return this.client.list();
  }

  find(id: string): DeviceRecord | null {
    return this.client.find(id) ?? null;
  }

  async login(deviceId: string, account: NurevaAccountName, password: string): Promise<StoredLogin> {
    const { client, ctx } = this;
    client.entry(deviceId);
    validatePassword(password, VENDOR);
    const key = client.tokenKey(deviceId, account, password);
    await ctx.services.loginThrottle.attempt(VENDOR, `${deviceId}/${account}`, ctx.clientAddress, password, () =>
      ctx.services.tokens.get(VENDOR, key, client.login(deviceId, account, password), AUTH_TTL_MS),
    );
    return client.toLogin(deviceId, account, password, key);
  }

  private loginFor(session: SessionRecord | undefined, deviceId: string): StoredLogin {
    const login = session?.logins.find((l) => l.slot === nurevaSlot(deviceId));
    if (!login) throw new UnauthenticatedError(`This session holds no Nureva login for device ${deviceId}: use loginNureva first`, { vendor: VENDOR });
    return login;
  }

  /**
   * A call with the session's authParameters for the device. A 401 means the device rotated them
   * (its account details changed): drop them, log in again once, repeat the call.
   */
  private async authed(deviceId: string, operation: string, method: HttpMethod, path: string, init: { json?: unknown; read?: boolean } = {}): Promise<UpstreamResponse> {
    this.client.entry(deviceId);
    const login = this.loginFor(await this.ctx.session(), deviceId);
    return this.withLogin(login, deviceId, operation, method, path, init, this.ctx.scope);
  }

  private withLogin(login: StoredLogin, deviceId: string, operation: string, method: HttpMethod, path: string, init: { json?: unknown; read?: boolean }, scope: CallScope | undefined): Promise<UpstreamResponse> {
    const { client, ctx } = this;
    const account = client.account(login);
    const password = client.password(login);
    const key = login.tokenKey ?? client.tokenKey(deviceId, account, password);
    return withTokenRetry(
      ctx.services.tokens,
      VENDOR,
      key,
      client.login(deviceId, account, password),
      (token) => client.send(deviceId, operation, method, path, { ...init, scope, auth: async (note) => ({ authorization: `Nureva ${await token(note)}` }) }),
      (res) => res.status === 401,
      AUTH_TTL_MS,
    );
  }

  /**
   * A read. This request's session must hold a login for the device (checked here, for each
   * request); then reads of the same device and path with the same credentials (the token cache's
   * HMAC key) in flight at the same time share one call, whichever sessions ask.
   */
  private async read<T>(deviceId: string, operation: string, path: string, share = true): Promise<T> {
    const { client, ctx } = this;
    client.entry(deviceId);
    const login = this.loginFor(await ctx.session(), deviceId);
    const call = async (scope: CallScope | undefined) => {
      const res = await this.withLogin(login, deviceId, operation, 'GET', path, { read: true }, scope);
      return client.object<T & object>(client.expect(res), 'something');
    };
    if (!share) return call(ctx.scope);
    const key = login.tokenKey ?? client.tokenKey(deviceId, client.account(login), client.password(login));
    return client.reads.run(`${key} ${deviceId} ${operation}`, ctx.scope, call);
  }

  audio(deviceId: string): Promise<NurevaAudio> {
    return this.audioLoader.load(deviceId);
  }

  hardware(deviceId: string): Promise<NurevaHardware> {
    return this.hardwareLoader.load(deviceId);
  }

  private async requireWriter(deviceId: string): Promise<void> {
    this.client.entry(deviceId);
    const login = this.loginFor(await this.ctx.session(), deviceId);
    if (ACCOUNT_RANK[this.client.account(login)] < ACCOUNT_RANK.GENERAL) {
      throw new ForbiddenError('Changing audio needs a GENERAL or higher account on this device', { vendor: VENDOR });
    }
  }

  /** `PATCH /api/v1/audio` with only the fields given, then the settings as they now are. */
  async updateAudio(deviceId: string, input: AudioInput): Promise<NurevaAudio> {
    await this.requireWriter(deviceId);
    const body = validateAudioInput(input);
    const res = await this.authed(deviceId, 'audio.patch', 'PATCH', '/api/v1/audio', { json: body });
    this.client.expect(res, [200, 204]);
    this.forgetReads(deviceId);
    return this.fresh(deviceId);
  }

  /** `PUT /api/v1/audio/volume/change`, then the settings as they now are. */
  async changeVolume(deviceId: string, direction: 'UP' | 'DOWN'): Promise<NurevaAudio> {
    await this.requireWriter(deviceId);
    const res = await this.authed(deviceId, 'audio.volume', 'PUT', '/api/v1/audio/volume/change', {
      json: { operation: direction === 'UP' ? 'increment' : 'decrement' },
    });
    this.client.expect(res, [200, 204]);
    this.forgetReads(deviceId);
    return this.fresh(deviceId);
  }

  /** After a write: reads of the device that began before it are not shared with anyone from now on. */
  private forgetReads(deviceId: string): void {
    this.client.reads.forget((key) => key.split(' ')[1] === deviceId);
  }

  /** The settings after this request's own write: never an answer shared with a read that began before it. */
  private async fresh(deviceId: string): Promise<NurevaAudio> {
    const audio = this.read<NurevaAudio>(deviceId, 'audio.get', '/api/v1/audio', false);
    this.audioLoader.clear(deviceId).prime(deviceId, audio);
    return audio;
  }

  /** `deviceConnection`: any valid session; the heartbeat needs no device login. */
  async connection(deviceId: string): Promise<Channel<ConnectionState>> {
    this.client.entry(deviceId);
    if (!(await this.ctx.session())) throw new UnauthenticatedError('A session is required: send the session token (Authorization, or connectionParams.authorization)');
    return this.client.streams.connection(deviceId);
  }

  /** `deviceSoundLocation` / `deviceMetrics`: the session's login (MONITOR or higher) for the device. */
  async data(deviceId: string, kind: DataEvent['kind']): Promise<Channel<DataEvent>> {
    const login = await this.streamLogin(deviceId, 'MONITOR');
    return this.client.streams.dataEvents(deviceId, login, (e) => e.kind === kind);
  }

  /** `deviceEvents`: the session's login (GENERAL or higher) for the device. */
  async events(deviceId: string, onDrop: () => void): Promise<Channel<DeviceEventModel>> {
    const login = await this.streamLogin(deviceId, 'GENERAL');
    return this.client.streams.deviceEvents(deviceId, login, onDrop);
  }

  /** The credentials a device stream opens with: checked here, before anything is contacted. */
  private async streamLogin(deviceId: string, least: NurevaAccountName): Promise<StreamLogin> {
    const { client, ctx } = this;
    client.entry(deviceId);
    const login = this.loginFor(await ctx.session(), deviceId);
    const account = client.account(login);
    if (ACCOUNT_RANK[account] < ACCOUNT_RANK[least]) {
      throw new ForbiddenError(`This stream needs a ${least} or higher account on this device`, { vendor: VENDOR });
    }
    const password = client.password(login);
    const key = login.tokenKey ?? client.tokenKey(deviceId, account, password);
    const tokens = ctx.services.tokens;
    return {
      tokenKey: key,
      token: async () => (await tokens.get(VENDOR, key, client.login(deviceId, account, password), AUTH_TTL_MS)).token,
      invalidate: (token) => void tokens.invalidate(VENDOR, key, token),
    };
  }
}

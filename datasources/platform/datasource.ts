import type { SessionRecord, StoredLogin } from '../../src/auth/sessions.js';
import { ErrorCode, NotFoundError, SwitchboardError, UnauthenticatedError, UpstreamError } from '../../src/errors.js';
import { checkLength, INPUT_LIMITS, validateEmail, validatePassword } from '../../src/limits/input.js';
import type { UpstreamResponse } from '../../src/upstream/client.js';
import type { VendorRequest } from '../../src/vendors/module.js';
import { PLATFORM_SLOT, VENDOR, type PlatformClient, type SignupInput, type UpdateInput } from './client.js';
import type { ClientAccountRecord, ClientLoginAnswer, ClientUpdateBody, SignupBody } from './models.js';

/** Per-request face of the Platform client, what resolvers call. */
export class PlatformDataSource {
  constructor(
    private readonly client: PlatformClient,
    private readonly ctx: VendorRequest,
  ) {}

  /** Logs a client in: the answer (token and profile) from `POST /v1/client/login`. */
  async login(email: string, password: string): Promise<ClientLoginAnswer> {
    const { client, ctx } = this;
    validateEmail(email, VENDOR);
    validatePassword(password, VENDOR);
    return ctx.services.loginThrottle.attempt(VENDOR, email, ctx.clientAddress, password, async () => {
      const res = await client.call('client.login', 'POST', '/v1/client/login', 'POST /v1/client/login', { json: { email, password }, clientCredentials: true, scope: ctx.scope });
      if (res.status === 200) return this.loginAnswer(res);
      const error = client.errorFromResponse(res);
      // Whether the email exists is not the caller's business: a wrong email reads like a wrong password.
      if (error instanceof NotFoundError || error instanceof UnauthenticatedError) throw new UnauthenticatedError('Wrong email or password', { vendor: VENDOR });
      throw error;
    });
  }

  private loginAnswer(res: UpstreamResponse): ClientLoginAnswer {
    const body = this.client.json<Partial<ClientLoginAnswer>>(res);
    if (typeof body.client_token !== 'string' || typeof body.user_id !== 'string') {
      throw new UpstreamError(VENDOR, 'The Platform login answer lacks client_token or user_id');
    }
    return body as ClientLoginAnswer;
  }

  /**
   * Creates the account (a fresh UUIDv4 user_id), then logs the client in, because Platform lets
   * a client edit its account only after a login: the session gets a login that works.
   */
  async signup(input: SignupInput): Promise<ClientLoginAnswer> {
    const { client } = this;
    client.validateSignup(input);
    const body: SignupBody = {
      user_id: client.newUserId(),
      email: input.email,
      name: { first_name: input.firstName, last_name: input.lastName },
      password: input.password,
      ...(input.phoneNumber != null ? { phone_number: input.phoneNumber } : {}),
    };
    const res = await client.call('client.signup', 'POST', '/v1/client/signup', 'POST /v1/client/signup', { json: body, scope: this.ctx.scope });
    const signed = client.json<{ client_token?: unknown }>(client.expect(res, [200, 201]));
    if (typeof signed.client_token !== 'string') throw new UpstreamError(VENDOR, 'The Platform signup answer has no client_token');
    // The account exists from here on: a failed login must not fail the signup, whose retry would
    // only meet CONFLICT. Without a login the session holds the signup token and the input.
    let failure: { status?: number; code?: string; reason?: string };
    try {
      const login = await client.call('client.login', 'POST', '/v1/client/login', 'POST /v1/client/login', {
        json: { email: input.email, password: input.password },
        clientCredentials: true,
        scope: this.ctx.scope,
      });
      if (login.status === 200) {
        const answer = this.loginAnswer(login);
        // Platform does not promise unique emails: a login by email and password may find an older
        // account with the same pair, which is not the one just created.
        if (answer.user_id === body.user_id) return { ...answer, name: answer.name ?? body.name, phone_number: answer.phone_number ?? body.phone_number ?? null };
        failure = { status: login.status, reason: 'the login found another account with this email and password' };
      } else failure = { status: login.status };
    } catch (error) {
      failure = { code: error instanceof SwitchboardError ? error.code : ErrorCode.INTERNAL_SERVER_ERROR };
    }
    this.ctx.services.logger.warn(
      { vendor: VENDOR, operation: 'client.login', ...failure },
      'Platform client created, but the login after signup failed: the session holds the signup token, so edits need a loginClient',
    );
    return { client_token: signed.client_token, user_id: body.user_id, email: body.email, name: body.name, phone_number: body.phone_number ?? null };
  }

  private sessionLogin(session: SessionRecord): StoredLogin {
    const login = session.logins.find((l) => l.slot === PLATFORM_SLOT);
    if (!login) throw new UnauthenticatedError('This session holds no Platform client login: use loginClient or signupClient first', { vendor: VENDOR });
    return login;
  }

  /** `PUT /v1/client/{user_id}` with only the fields given; null clears. Returns the new profile. */
  async update(session: SessionRecord, input: UpdateInput): Promise<ClientAccountRecord> {
    const { client } = this;
    client.validateUpdate(input);
    const login = this.sessionLogin(session);
    const profile = login.profile as unknown as ClientAccountRecord;
    const body: ClientUpdateBody = {};
    if ('email' in input) body.email = input.email ?? null;
    if ('phoneNumber' in input) body.phone_number = input.phoneNumber ?? null;
    if ('firstName' in input || 'lastName' in input) {
      body.name = {};
      if ('firstName' in input) body.name.first_name = input.firstName ?? null;
      if ('lastName' in input) body.name.last_name = input.lastName ?? null;
    }
    const res = await client.call('client.update', 'PUT', `/v1/client/${encodeURIComponent(profile.user_id)}`, 'PUT /v1/client/{user_id}', {
      json: body,
      headers: { 'client-token': client.clientToken(login) },
      clientCredentials: true,
      scope: this.ctx.scope,
    });
    client.expect(res, [200, 204]);
    const next: ClientAccountRecord = {
      ...profile,
      ...('email' in body ? { email: body.email } : {}),
      ...('phone_number' in body ? { phone_number: body.phone_number } : {}),
      ...(body.name ? { name: { ...profile.name, ...body.name } } : {}),
    };
    await this.ctx.services.sessions.saveLogin(session, { ...login, subject: next.email ?? next.user_id, profile: { ...next } });
    return next;
  }

  /** `DELETE /v1/client/{user_id}`; the client login then leaves the session. */
  async delete(session: SessionRecord, reason?: string | null): Promise<boolean> {
    const { client } = this;
    checkLength(reason, 'reason', INPUT_LIMITS.reason, VENDOR);
    const login = this.sessionLogin(session);
    const profile = login.profile as unknown as ClientAccountRecord;
    const res = await client.call('client.delete', 'DELETE', `/v1/client/${encodeURIComponent(profile.user_id)}`, 'DELETE /v1/client/{user_id}', {
      json: reason != null ? { reason } : undefined,
      headers: { 'client-token': client.clientToken(login) },
      clientCredentials: true,
      scope: this.ctx.scope,
    });
    client.expect(res, [200, 204]);
    await this.ctx.services.sessions.detach(session, PLATFORM_SLOT);
    return true;
  }

  toLogin(answer: ClientLoginAnswer): StoredLogin {
    return this.client.toLogin(answer);
  }
}

import { Simulator, type SimReply, type SimRequest, type SimulatorOptions } from '../server.js';
import type { NuveqUserData } from '../../datasources/nuveq/models.js';

/**
 * The Nuveq api-port API: one POST endpoint routed on `port`, the API key and owner account in the
 * body. What no public source confirms (the error envelope and status, the throttle) is a
 * switchable mode, so the client is tested against each assumption.
 */

export interface NuveqSimOptions extends SimulatorOptions {
  tokenKey?: string;
  apiId?: number;
  /** The account's User Detail port. */
  userDetailPort?: string;
  /** Path of the endpoint, `/api/` as the real one. */
  path?: string;
  /** HTTP status of error answers: the vendor's is undocumented (200 or a 4xx are assumed). */
  errorStatus?: number;
  /**
   * How an error message is wrapped, undocumented too: `{"error": "..."}` by default (the vendor
   * facts' assumption), `{"message": "..."}`, or a bare JSON string.
   */
  errorShape?: 'error' | 'message' | 'string';
  /** Assumed: the throttle's 429 carries Retry-After (off by default: nothing about the throttle is published). */
  throttleRetryAfter?: boolean;
  /** Answer 429 (Retry-After: 1) when more than this many requests are in flight ("dynamic throttle"). */
  throttleAbove?: number;
  seed?: boolean;
}

export const NUVEQ_DEMO_USER_IDS = { first: 1001, last: 1120 };

const DEPARTMENTS = [
  { id: 11, name: 'Engineering' },
  { id: 12, name: 'Facilities' },
  { id: 13, name: 'Reception' },
];
const POSTS = [
  { id: '21', name: 'Engineer' },
  { id: '22', name: 'Manager' },
];
const ROLES = [
  { id: 31, name: 'Staff' },
  { id: 32, name: 'Contractor' },
];
const NAMES = ['Amani Okafor', 'Bea Lindqvist', 'Chen Wei', 'Dara Moyo', 'Eli Navarro', 'Farah Haddad', 'Goran Petrov', 'Hana Sato'];

/** Seeded users exist for ids first..last except every fifth id: the gaps are unknown users. */
export function nuveqDemoUser(id: number): NuveqUserData | undefined {
  if (id < NUVEQ_DEMO_USER_IDS.first || id > NUVEQ_DEMO_USER_IDS.last || id % 5 === 0) return undefined;
  const name = NAMES[id % NAMES.length]!;
  const dept = DEPARTMENTS[id % DEPARTMENTS.length]!;
  const post = POSTS[id % POSTS.length]!;
  const role = ROLES[id % ROLES.length]!;
  const day = String((id % 28) + 1).padStart(2, '0');
  return {
    email: `${name.split(' ')[0]!.toLowerCase()}.${id}@nuveq.example`,
    name,
    phone: id % 3 === 0 ? '' : `+6012${String(id).padStart(7, '0')}`,
    photo: id % 4 === 0 ? '' : `https://cdn.nuveq.example/photos/${id}.jpg`,
    staff_number: id % 2 === 0 ? `S-${id}` : id,
    last_seen_at: `2024-03-${day} 08:30:00`,
    expires_at: id % 6 === 0 ? '' : `2025-12-${day} 23:59:59`,
    gender: id % 2 === 0 ? 'F' : 'M',
    department_id: dept.id,
    post_id: post.id,
    role_id: role.id,
    department_name: dept.name,
    role_name: role.name,
    post_name: post.name,
    access_group_1_description: id % 7 === 0 ? '' : 'Main entrance, floors 1-3',
  };
}

export class NuveqSimulator extends Simulator {
  readonly tokenKey: string;
  readonly apiId: number;
  readonly userDetailPort: string;
  readonly path: string;
  errorStatus: number;
  errorShape: 'error' | 'message' | 'string';
  throttleRetryAfter: boolean;
  throttleAbove?: number;
  readonly users = new Map<number, NuveqUserData>();

  constructor(options: NuveqSimOptions = {}) {
    super('nuveq', options);
    this.tokenKey = options.tokenKey ?? 'nuveq-demo-key-0123456789';
    this.apiId = options.apiId ?? 4242;
    this.userDetailPort = options.userDetailPort ?? '1201';
    this.path = options.path ?? '/api/';
    this.errorStatus = options.errorStatus ?? 200;
    this.errorShape = options.errorShape ?? 'error';
    this.throttleRetryAfter = options.throttleRetryAfter ?? false;
    this.throttleAbove = options.throttleAbove;
    if (options.seed !== false) {
      for (let id = NUVEQ_DEMO_USER_IDS.first; id <= NUVEQ_DEMO_USER_IDS.last; id++) {
        const u = nuveqDemoUser(id);
        if (u) this.users.set(id, u);
      }
    }
    this.route('POST', this.path, (req) => this.handlePort(req));
  }

  protected override throttleReply(): SimReply {
    return { status: 429, headers: this.throttleRetryAfter ? { 'retry-after': '1' } : {}, json: { error: 'Too many requests, please slow down.' } };
  }

  /** User Detail calls received (counted, not read from the bounded log). */
  private detailCalls = 0;

  override stats(): Record<string, unknown> {
    return { ...super.stats(), userDetailCalls: this.detailCalls };
  }

  override resetLog(): void {
    super.resetLog();
    this.detailCalls = 0;
  }

  /** User Detail calls received (the vendor calls a test counts). */
  userDetailCalls(): number {
    return this.detailCalls;
  }

  private error(message: string): SimReply {
    return { status: this.errorStatus, json: this.errorShape === 'string' ? message : { [this.errorShape]: message } };
  }

  private handlePort(req: SimRequest): SimReply {
    if (this.throttleAbove !== undefined && this.inFlight > this.throttleAbove) return this.throttleReply();
    const body = req.json as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object') return this.error('Invalid JSON request.');
    if (body.token_key !== this.tokenKey) return this.error('Invalid API Key.');
    if (body.api_id !== this.apiId) return this.error('Fail to get Site');
    if (typeof body.port !== 'string') return this.error('Port is empty.');
    if (body.port !== this.userDetailPort) return this.error('Invalid port.');
    this.detailCalls++;
    if (typeof body.user_id !== 'number') return this.error('User Id is empty.');
    const user = this.users.get(body.user_id);
    if (!user) return this.error('User not found.');
    return { status: 200, json: { data: user } };
  }
}

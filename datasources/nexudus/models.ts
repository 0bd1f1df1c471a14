/** Raw shapes of the Nexudus API (vendor-docs/nexudus-user-tokens.txt). */

/** `GET /en/user/me`: PascalCase, many more fields than the gateway maps. */
export interface NexudusUserRecord {
  Id: number;
  FullName?: string | null;
  Email?: string | null;
  IsAdmin?: boolean | null;
  Active?: boolean | null;
  LastAccess?: string | null;
  CreatedOn?: string | null;
  UpdatedOn?: string | null;
  UniqueId?: string | null;
  UserRoles?: number[] | null;
  [field: string]: unknown;
}

/** `POST /api/token` answer. */
export interface NexudusTokenAnswer {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
}

/** The envelope of `/api/sys/...` answers. */
export interface NexudusEnvelope<T = unknown> {
  Status?: number;
  Message?: string | null;
  Value?: T;
  Errors?: Array<{ AttemptedValue?: unknown; Message?: string; PropertyName?: string }> | null;
  WasSuccessful?: boolean;
}

export interface ImpersonationRecord {
  userId: string;
  token: string;
  loginUrl: string;
  /** Epoch ms, from the JWT's exp. */
  expiresAt?: number;
}

/** Raw shapes of the Nuveq api-port API (vendor-docs/nuveq-public-api.txt). */

/** The User Detail port's `data`. Ids may be strings or numbers; empty values arrive as "". */
export interface NuveqUserData {
  email?: string | null;
  name?: string | null;
  phone?: string | null;
  photo?: string | null;
  staff_number?: string | number | null;
  /** `2022-12-22 08:30:00`, no zone. */
  last_seen_at?: string | null;
  expires_at?: string | null;
  gender?: string | null;
  department_id?: string | number | null;
  post_id?: string | number | null;
  role_id?: string | number | null;
  department_name?: string | null;
  role_name?: string | null;
  post_name?: string | null;
  access_group_1_description?: string | null;
}

/** The fields the vendor doc lists for User Detail: a `data` with none of them is not a user. */
export const NUVEQ_USER_FIELDS = [
  'email', 'name', 'phone', 'photo', 'staff_number', 'last_seen_at', 'expires_at', 'gender',
  'department_id', 'post_id', 'role_id', 'department_name', 'role_name', 'post_name', 'access_group_1_description',
] as const satisfies ReadonlyArray<keyof NuveqUserData>;

export interface NuveqUserDetailRequest {
  port: string;
  api_id: number;
  user_id: number;
  token_key: string;
}

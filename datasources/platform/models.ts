/** Raw shapes of the Platform REST API (vendor-docs/platform-rest-api.txt). */

export interface PlatformName {
  first_name?: string | null;
  last_name?: string | null;
}

/** What the vendor tells about a client: the login answer minus the token. No read endpoint exists. */
export interface ClientAccountRecord {
  user_id: string;
  email?: string | null;
  phone_number?: string | null;
  name?: PlatformName | null;
}

/** `POST /v1/client/login` answer. */
export interface ClientLoginAnswer extends ClientAccountRecord {
  client_token: string;
}

export interface SignupBody {
  user_id: string;
  email: string;
  name: { first_name: string; last_name: string };
  password: string;
  phone_number?: string;
  custom_data?: Record<string, unknown>;
}

/** `PUT /v1/client/{user_id}`: absent keeps a field, null clears it. */
export interface ClientUpdateBody {
  email?: string | null;
  name?: PlatformName;
  phone_number?: string | null;
}

export interface PlatformErrorItem {
  id?: string;
  title?: string;
  code?: string;
  detail?: string;
  source?: { pointer?: string; parameter?: string; header?: string };
  /** Sometimes a number, sometimes a string ("400"). */
  status?: number | string;
}

export interface PlatformErrorEnvelope {
  errors?: PlatformErrorItem[];
}

import { ClientError, GraphQLClient } from 'graphql-request';
import { getSdk, type SdkFunctionWrapper } from './__generated__/sdk.js';

/**
 * The typed Switchboard SDK: one method per operation in sdk/operations/, generated from the
 * schema, on graphql-request. It carries the session token: set it once (or let a login set it),
 * and every login payload's token replaces it; `Logout` forgets it.
 *
 *   const sb = createSwitchboardClient('http://127.0.0.1:4000/graphql');
 *   await sb.LoginClient({ email, password });      // the token is now set
 *   const { session } = await sb.Session();
 */

export * from './__generated__/graphql.js';
export type { Sdk } from './__generated__/sdk.js';

export interface SwitchboardClientOptions {
  /** A session token to start with (e.g. kept from an earlier login). */
  token?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (defaults to the global one). */
  fetch?: typeof fetch;
}

export type SwitchboardClient = ReturnType<typeof getSdk> & {
  /** The session token in use, if any. */
  readonly token: string | undefined;
  setToken(token: string | undefined): void;
  /** The raw graphql-request client, for documents of your own. */
  readonly graphql: GraphQLClient;
};

/** Anything shaped like SessionPayload among a result's top-level fields. */
function payloadToken(result: unknown): string | undefined {
  if (!result || typeof result !== 'object') return undefined;
  for (const value of Object.values(result)) {
    if (value && typeof value === 'object' && 'token' in value && 'session' in value && typeof value.token === 'string') return value.token;
  }
  return undefined;
}

export function createSwitchboardClient(endpoint: string, options: SwitchboardClientOptions = {}): SwitchboardClient {
  let token = options.token;
  const graphql = new GraphQLClient(endpoint, { headers: options.headers, fetch: options.fetch });
  const wrapper: SdkFunctionWrapper = async (action, operationName) => {
    const result = await action(token ? { authorization: `Bearer ${token}` } : {});
    if (operationName === 'Logout') token = undefined;
    else token = payloadToken(result) ?? token;
    return result;
  };
  const sdk = getSdk(graphql, wrapper);
  // defineProperties, not Object.assign: `token` must stay a live getter.
  return Object.defineProperties(sdk, {
    token: { get: () => token, enumerable: true },
    setToken: { value: (next: string | undefined) => void (token = next) },
    graphql: { value: graphql },
  }) as SwitchboardClient;
}

/** The `extensions.code` of a Switchboard error (UNAUTHENTICATED, RATE_LIMITED, ...), if it is one. */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof ClientError) {
    const code = error.response.errors?.[0]?.extensions?.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

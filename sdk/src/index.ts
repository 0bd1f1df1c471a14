import { ClientError, GraphQLClient } from 'graphql-request';
import type { ResultOf, TypedDocumentNode, VariablesOf } from '@graphql-typed-document-node/core';
import type { GraphQLFormattedError } from 'graphql';
import { print } from 'graphql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { getSdk, type SdkFunctionWrapper } from './__generated__/sdk.js';
import * as Documents from './__generated__/graphql.js';
import { DeviceConnectionDocument, DeviceEventsDocument, DeviceMetricsDocument, DeviceSoundLocationDocument } from './__generated__/graphql.js';

/**
 * The typed Switchboard SDK: one method per operation in sdk/operations/, generated from the
 * schema, on graphql-request. It carries the session token: set it once (or let a login set it),
 * and every login payload's token replaces it; `Logout` forgets it.
 *
 *   const sb = createSwitchboardClient('http://127.0.0.1:4000/graphql');
 *   await sb.LoginClient({ email, password });      // the token is now set
 *   const { session } = await sb.Session();
 *
 * Methods throw on any GraphQL error (a ClientError; `errorCode` reads its code). Where an answer
 * may be partial (device queries return data beside errors for devices the session has no login
 * for), `sb.withErrors.<Operation>()` resolves to `{ data, errors }` instead of throwing.
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
  /** A WebSocket implementation for subscriptions where there is no global one (Node 20: the `ws` package). */
  webSocketImpl?: unknown;
}

/**
 * The subscriptions, each a method that returns a typed async iterator (graphql-ws, over the
 * gateway's WebSocket on the same URL). A subscription that the gateway ends with an error (the
 * session logged out, no login for the device) throws a SubscriptionError from the iterator.
 */
const SUBSCRIPTIONS = {
  DeviceConnection: DeviceConnectionDocument,
  DeviceSoundLocation: DeviceSoundLocationDocument,
  DeviceMetrics: DeviceMetricsDocument,
  DeviceEvents: DeviceEventsDocument,
};
type Subscriptions = typeof SUBSCRIPTIONS;
export const SUBSCRIPTION_NAMES = Object.keys(SUBSCRIPTIONS) as Array<keyof Subscriptions>;

/** One live subscription: iterate it for results; `return()` (or leaving a for-await loop) ends it. */
export type LiveResults<T> = AsyncIterableIterator<T> & { return(): Promise<IteratorResult<T, undefined>> };

type Sdk = ReturnType<typeof getSdk>;
/** The queries and mutations: every SDK operation that is not a subscription. */
export type OperationName = Exclude<keyof Sdk, keyof Subscriptions>;
type DocumentOf<K extends string> = (typeof Documents)[`${K}Document` & keyof typeof Documents];
/** An operation's variables argument, optional where the operation has none required. */
type VariablesArg<F> = F extends (variables: infer V, ...rest: never[]) => unknown ? (undefined extends V ? [variables?: V] : [variables: V]) : never;

/** An answer with its errors beside the data: `data` is null when nothing could be answered. */
export interface PartialResult<R> {
  data: R | null;
  errors: readonly GraphQLFormattedError[];
}

/** One method per query and mutation that resolves to `{ data, errors }` rather than throwing on GraphQL errors. */
export type WithErrorsMethods = { [K in OperationName]: (...variables: VariablesArg<Sdk[K]>) => Promise<PartialResult<ResultOf<DocumentOf<K>>>> };

type LiveMethods = { [K in keyof Subscriptions]: (variables: VariablesOf<Subscriptions[K]>) => LiveResults<ResultOf<Subscriptions[K]>> };

export type SwitchboardClient = Omit<ReturnType<typeof getSdk>, keyof Subscriptions> &
  LiveMethods & {
    /** The session token in use, if any. */
    readonly token: string | undefined;
    setToken(token: string | undefined): void;
    /** The raw graphql-request client, for documents of your own. */
    readonly graphql: GraphQLClient;
    /** The same operations, answering `{ data, errors }` instead of throwing on GraphQL errors. */
    readonly withErrors: WithErrorsMethods;
    /** Any query or mutation document of your own, answering `{ data, errors }`. */
    execute<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables?: V): Promise<PartialResult<R>>;
    /** Any subscription document of your own, over the same WebSocket. */
    subscribe<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): LiveResults<R>;
    /** Closes the subscriptions' WebSocket, if one is open. */
    close(): Promise<void>;
  };

/** The gateway ended a subscription with an error; `code` is its `extensions.code`. */
export class SubscriptionError extends Error {
  constructor(readonly errors: readonly GraphQLFormattedError[]) {
    super(errors.map((e) => e.message).join('; '));
    this.name = 'SubscriptionError';
  }

  get code(): string | undefined {
    const code = this.errors[0]?.extensions?.code;
    return typeof code === 'string' ? code : undefined;
  }
}

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
  // The gateway authenticates a WebSocket once, when it connects: after a new token (another
  // login, setToken, a logout) new subscriptions go over a new socket, with it. The old one keeps
  // its subscriptions (the gateway ends them if that session ends) and closes when they are done.
  let ws: WsClient | undefined;
  const sockets = new Set<WsClient>();
  const useToken = (next: string | undefined) => {
    if (next === token) return;
    token = next;
    ws = undefined;
  };
  const graphql = new GraphQLClient(endpoint, { headers: options.headers, fetch: options.fetch });
  const wrapper: SdkFunctionWrapper = async (action, operationName) => {
    const result = await action(token ? { authorization: `Bearer ${token}` } : {});
    useToken(operationName === 'Logout' ? undefined : (payloadToken(result) ?? token));
    return result;
  };
  const sdk = getSdk(graphql, wrapper);
  // Errors as data: graphql-request's errorPolicy 'all' gives 2xx answers' errors beside the data;
  // a 4xx answer with a GraphQL body (a validation error) still throws, and is turned into data here.
  const lenient = new GraphQLClient(endpoint, { headers: options.headers, fetch: options.fetch, errorPolicy: 'all' });
  const execute = async <R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables?: V): Promise<PartialResult<R>> => {
    let answer: { data?: unknown; errors?: readonly GraphQLFormattedError[] };
    try {
      answer = await lenient.rawRequest<R, V>(print(document), variables, token ? { authorization: `Bearer ${token}` } : {});
    } catch (error) {
      if (!(error instanceof ClientError) || !error.response.errors?.length) throw error;
      answer = { data: error.response.data, errors: error.response.errors as readonly GraphQLFormattedError[] };
    }
    const data = (answer.data ?? null) as R | null;
    useToken(operationNameOf(document) === 'Logout' && !answer.errors?.length ? undefined : (payloadToken(data) ?? token));
    return { data, errors: answer.errors ?? [] };
  };
  const documents = Documents as unknown as Record<string, TypedDocumentNode<unknown, Record<string, unknown>>>;
  const withErrors = Object.fromEntries(
    Object.keys(sdk)
      .filter((name) => !(name in SUBSCRIPTIONS) && documents[`${name}Document`])
      .map((name) => [name, (variables?: Record<string, unknown>) => execute(documents[`${name}Document`]!, variables)]),
  );
  const socket = () => {
    if (ws) return ws;
    const bearer = token;
    const client = createWsClient({
      url: endpoint.replace(/^http/, 'ws'),
      connectionParams: () => (bearer ? { authorization: `Bearer ${bearer}` } : {}),
      webSocketImpl: options.webSocketImpl,
      // Connected while it has subscriptions, closed when the last one ends.
      lazy: true,
    });
    // Sockets open now, for close(); a socket replaced by a newer token is forgotten once it closes.
    client.on('opened', () => sockets.add(client));
    client.on('closed', () => sockets.delete(client));
    return (ws = client);
  };
  const subscribe = <R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): LiveResults<R> => live<R>(socket().iterate({ query: print(document), variables }));
  const methods = Object.fromEntries(SUBSCRIPTION_NAMES.map((name) => [name, { value: (variables: Record<string, unknown>) => subscribe(SUBSCRIPTIONS[name] as TypedDocumentNode<unknown, Record<string, unknown>>, variables) }]));
  // defineProperties, not Object.assign: `token` must stay a live getter.
  return Object.defineProperties(sdk, {
    ...methods,
    token: { get: () => token, enumerable: true },
    setToken: { value: (next: string | undefined) => useToken(next) },
    graphql: { value: graphql },
    withErrors: { value: withErrors },
    execute: { value: execute },
    subscribe: { value: subscribe },
    close: {
      value: async () => {
        const open = new Set(sockets);
        if (ws) open.add(ws);
        ws = undefined;
        sockets.clear();
        await Promise.all([...open].map((client) => client.dispose()));
      },
    },
  }) as unknown as SwitchboardClient;
}

function operationNameOf(document: TypedDocumentNode<unknown, never>): string | undefined {
  for (const definition of document.definitions) if (definition.kind === 'OperationDefinition') return definition.name?.value;
  return undefined;
}

/** graphql-ws's results as data: a result with errors ends the iteration with a SubscriptionError. */
function live<R>(results: AsyncIterableIterator<{ data?: unknown; errors?: readonly GraphQLFormattedError[] }>): LiveResults<R> {
  return {
    async next() {
      const r = await results.next();
      if (r.done) return { value: undefined, done: true };
      if (r.value.errors?.length) {
        await results.return?.();
        throw new SubscriptionError(r.value.errors);
      }
      return { value: r.value.data as R, done: false };
    },
    return: async () => {
      await results.return?.();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** The `extensions.code` of a Switchboard error (UNAUTHENTICATED, RATE_LIMITED, ...), if it is one. */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof SubscriptionError) return error.code;
  if (error instanceof ClientError) {
    const code = error.response.errors?.[0]?.extensions?.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

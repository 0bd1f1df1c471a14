import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { LoginClientDocument, NuveqUsersDocument } from '@switchboard/sdk';

let token: string | undefined;

export function createClient(uri = 'http://127.0.0.1:4000/graphql') {
  // Every request carries the session token of the last login.
  const auth = new SetContextLink(({ headers }) => ({
    headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  }));
  return new ApolloClient({ link: auth.concat(new HttpLink({ uri })), cache: new InMemoryCache() });
}

export async function signIn(client: ApolloClient, email: string, password: string) {
  const { data } = await client.mutate({ mutation: LoginClientDocument, variables: { email, password } });
  token = data?.loginClient.token; // typed: LoginClientMutation
  return data?.loginClient.session.clientAccount;
}

export async function loadUsers(client: ApolloClient, userIds: string[]) {
  const { data } = await client.query({ query: NuveqUsersDocument, variables: { userIds } });
  return data?.nuveqUsers ?? []; // (NuveqUserFieldsFragment | null)[], in the order asked
}

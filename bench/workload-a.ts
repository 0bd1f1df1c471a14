/**
 * Workload A as every bench script runs it: the gateway's environment, how to tell it is ready,
 * the demo login, and the one `nuveqUser` query asked for 50 known users in turn (so that requests
 * in flight together ask for different users; concurrent asks for one user share a call, which is
 * workload E).
 */

export const GATEWAY_ENV: Record<string, string> = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  SESSION_SECRET: 'bench-session-secret-0123456789abcdef',
  PORT: '0',
  HOST: '127.0.0.1',
};

/** The gateway's start-up line, with its URL. */
export const READY = /GraphQL:\s+(http:\/\/\S+)\/graphql/;

/** A demo client's login, as every workload's gateway is logged in to. */
export const LOGIN = 'mutation { loginClient(email: "ada@example.com", password: "demo-ada-1") { token } }';

export const USER_QUERY = 'query User($id: ID!) { nuveqUser(userId: $id) { userId name email phone staffNumber department { id name } role { name } lastSeenAt } }';

/** 50 users the simulator knows (it knows no id divisible by 5). */
export const KNOWN_USERS: readonly string[] = Array.from({ length: 120 }, (_, i) => 1001 + i)
  .filter((id) => id % 5 !== 0)
  .slice(0, 50)
  .map(String);

/**
 * The time, as the gateway reads it: one clock, made once and handed to everything that keeps
 * time (token expiry, sessions, budgets, throttles), so tests move it instead of patching Date.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

import { BadUserInputError, type VendorName } from '../errors.js';

/**
 * Lengths of what callers type, checked before any vendor call: nothing a client sends is passed
 * on, kept in a session or logged at a size the gateway did not choose. RFC 5321 caps an address
 * at 254 characters; the rest are generous for people and small for machines.
 */
export const INPUT_LIMITS = {
  email: 254,
  password: 1024,
  /** A one-time code: six to ten digits in practice. */
  totp: 16,
  /** First and last names. */
  name: 200,
  reason: 1000,
} as const;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Throws BAD_USER_INPUT naming `field` when `value` is longer than `max` characters. */
export function checkLength(value: string | null | undefined, field: string, max: number, vendor?: VendorName): void {
  if (value != null && value.length > max) {
    throw new BadUserInputError(`${field}: at most ${max} characters`, field, { vendor, extensions: { limit: max } });
  }
}

export function validateEmail(email: string, vendor?: VendorName, field = 'email'): void {
  checkLength(email, field, INPUT_LIMITS.email, vendor);
  if (!EMAIL.test(email)) throw new BadUserInputError(`${field}: not an email address`, field, { vendor });
}

export function validatePassword(password: string, vendor?: VendorName, field = 'password'): void {
  checkLength(password, field, INPUT_LIMITS.password, vendor);
}

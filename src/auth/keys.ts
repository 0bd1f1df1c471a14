import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { TokenSealer } from './token-cache.js';

/**
 * Every key the gateway uses is derived from SESSION_SECRET with HKDF, one per purpose, so a key
 * leaked from one use (a cache key HMAC, say) says nothing about the others. Replicas that share
 * the secret derive the same keys, which is what lets them share sessions and caches.
 */
export interface Keys {
  /** HS256 key for session tokens. */
  sessionSigning: Uint8Array;
  /** AES-256-GCM key for vendor secrets kept in sessions and shared caches. */
  sealing: Buffer;
  /** HMAC key for token-cache keys and throttle identities. */
  hashing: Buffer;
}

export function deriveKeys(secret: string): Keys {
  const ikm = Buffer.from(secret, 'utf8');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', ikm, 'switchboard', info, 32));
  return {
    sessionSigning: new Uint8Array(derive('session-token')),
    sealing: derive('sealing'),
    hashing: derive('cache-keys'),
  };
}

export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** AES-256-GCM: iv (12) | tag (16) | ciphertext, base64url. Tampering makes open() fail. */
export class Sealer implements TokenSealer {
  constructor(private readonly key: Buffer) {}

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(sealed: string): string | undefined {
    try {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(sealed: string | undefined): T | undefined {
    if (!sealed) return undefined;
    const plain = this.open(sealed);
    return plain === undefined ? undefined : (JSON.parse(plain) as T);
  }
}

import { pino, type DestinationStream, type Logger } from 'pino';
import { scrubTokens } from './errors.js';

export type { Logger } from 'pino';

/**
 * Field names whose values are secrets wherever they appear in a log object. Code never logs
 * bodies or headers on purpose; this catches the accident.
 */
const SECRET_KEYS = [
  'password',
  'passwd',
  'token',
  'token_key',
  'tokenKey',
  'api_token',
  'client_token',
  'clientToken',
  'access_token',
  'refresh_token',
  'authParameters',
  'authorization',
  'Authorization',
  'cookie',
  'secret',
  'sessionSecret',
  'totp',
];
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]).concat(['req.headers.authorization', 'headers.authorization', 'headers["client-token"]']);

/**
 * Values registered here (configured API keys and passwords) are replaced in every serialized log
 * line, whatever field or message they ended up in.
 */
export class SecretRegistry {
  private readonly values = new Set<string>();

  add(value: string | undefined): void {
    // Very short values would redact ordinary words; configuration rejects such secrets anyway.
    if (value && value.length >= 6) this.values.add(value);
  }

  scrub(text: string): string {
    let out = text;
    for (const v of this.values) {
      if (out.includes(v)) out = out.split(v).join('[redacted]');
      const json = JSON.stringify(v).slice(1, -1);
      if (json !== v && out.includes(json)) out = out.split(json).join('[redacted]');
    }
    return scrubTokens(out);
  }
}

export interface LoggerOptions {
  level: string;
  secrets: SecretRegistry;
  destination?: DestinationStream;
  /** Fields every line gets (the trace and span in scope, when tracing is on). */
  mixin?: () => Record<string, string>;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'switchboard' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: { streamWrite: (line) => options.secrets.scrub(line) },
      ...(options.mixin ? { mixin: options.mixin } : {}),
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

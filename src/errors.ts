import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';

/** The error codes of the public contract (section 3). Clients switch on `extensions.code`. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  UPSTREAM_TIMEOUT: 'UPSTREAM_TIMEOUT',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  UPSTREAM_ERROR: 'UPSTREAM_ERROR',
  VENDOR_NOT_CONFIGURED: 'VENDOR_NOT_CONFIGURED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A vendor as the GraphQL `Vendor` enum spells it (each vendor module names itself). */
export type VendorName = string;

export interface ErrorOptions {
  vendor?: VendorName;
  /** Extra, non-secret extensions (e.g. `field`). */
  extensions?: Record<string, unknown>;
  cause?: unknown;
  /**
   * What the vendor answered, for the operator's log (redacted and cut short there); never sent
   * to the client, whose message stays fixed.
   */
  detail?: string;
}

/**
 * Base of every error the gateway means to show a client. Anything else that reaches
 * `formatError` is a bug or an unexpected failure and gets masked.
 */
export class SwitchboardError extends GraphQLError {
  readonly code: ErrorCode;
  readonly vendor?: VendorName;
  /** The vendor's answer behind this error, for the operator's log only. */
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, {
      extensions: {
        code,
        ...(options.vendor ? { vendor: options.vendor } : {}),
        ...options.extensions,
      },
      originalError: options.cause instanceof Error ? options.cause : undefined,
    });
    this.name = 'SwitchboardError';
    this.code = code;
    this.vendor = options.vendor;
    if (options.detail !== undefined) this.detail = options.detail;
  }
}

export class UnauthenticatedError extends SwitchboardError {
  constructor(message = 'A valid session is required', options?: ErrorOptions) {
    super(ErrorCode.UNAUTHENTICATED, message, options);
  }
}
export class ForbiddenError extends SwitchboardError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.FORBIDDEN, message, options);
  }
}
export class BadUserInputError extends SwitchboardError {
  constructor(message: string, field?: string, options: ErrorOptions = {}) {
    super(ErrorCode.BAD_USER_INPUT, message, {
      ...options,
      extensions: { ...(field ? { field } : {}), ...options.extensions },
    });
  }
}
export class NotFoundError extends SwitchboardError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.NOT_FOUND, message, options);
  }
}
export class ConflictError extends SwitchboardError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.CONFLICT, message, options);
  }
}
export class RateLimitedError extends SwitchboardError {
  readonly retryAfter: number;
  constructor(retryAfterSeconds: number, message = 'Rate limited; retry later', options: ErrorOptions = {}) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
    super(ErrorCode.RATE_LIMITED, message, {
      ...options,
      extensions: { ...options.extensions, retryAfter },
    });
    this.retryAfter = retryAfter;
  }
}
export class UpstreamTimeoutError extends SwitchboardError {
  constructor(vendor: VendorName, message = 'The vendor did not answer in time', options: ErrorOptions = {}) {
    super(ErrorCode.UPSTREAM_TIMEOUT, message, { ...options, vendor });
  }
}
export class UpstreamUnavailableError extends SwitchboardError {
  constructor(vendor: VendorName, message = 'The vendor is unavailable', options: ErrorOptions = {}) {
    super(ErrorCode.UPSTREAM_UNAVAILABLE, message, { ...options, vendor });
  }
}
/** The gateway's shared state (Redis) is away, so what it vouches for cannot be checked now. */
export class SharedStateUnavailableError extends SwitchboardError {
  constructor(what: string) {
    super(ErrorCode.UPSTREAM_UNAVAILABLE, `${what} cannot be checked while the gateway's shared state is unavailable; try again shortly`);
  }
}
export class UpstreamError extends SwitchboardError {
  constructor(vendor: VendorName, message = 'The vendor answered something unusable', options: ErrorOptions = {}) {
    super(ErrorCode.UPSTREAM_ERROR, message, { ...options, vendor });
  }
}
export class VendorNotConfiguredError extends SwitchboardError {
  constructor(vendor: VendorName) {
    super(ErrorCode.VENDOR_NOT_CONFIGURED, `${vendor} is not configured on this gateway`, { vendor });
  }
}

/** What a vendor answered, reduced to what error mapping needs. */
export interface VendorAnswer {
  status: number;
  /** The vendor's own error message, if it gave one: shown to the client only for input errors. */
  message?: string;
  /** The vendor's whole answer, for the operator's log. */
  payload?: string;
  /** The field a validation error names. */
  field?: string;
  retryAfterSeconds?: number;
}

const MAX_VENDOR_MESSAGE = 200;

/**
 * A vendor's message about the client's own input (a validation error), the one kind of vendor
 * text a client is shown: kept short and free of anything token-shaped. Everything else a vendor
 * says reaches only the operator's log, as an error's `detail`.
 */
export function vendorMessage(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const trimmed = scrubTokens(raw).replace(/\s+/g, ' ').trim();
  if (!trimmed) return undefined;
  return trimmed.length > MAX_VENDOR_MESSAGE ? `${trimmed.slice(0, MAX_VENDOR_MESSAGE)}…` : trimmed;
}

const JWT_SHAPE = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const BEARER_SHAPE = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
/** Any other scheme (a vendor's own, e.g. `Acme <credentials>`): a capitalised word, then a long value that looks encoded. */
const SCHEME_SHAPE = /\b([A-Z][A-Za-z]{2,20})\s+(?=[A-Za-z0-9._~+/=-]*[0-9+/=])[A-Za-z0-9._~+/=-]{16,}/g;

/** Removes token-shaped substrings (JWTs, Authorization values). Last line of defence, not the first. */
export function scrubTokens(text: string): string {
  return text.replace(JWT_SHAPE, '[redacted]').replace(BEARER_SHAPE, '$1 [redacted]').replace(SCHEME_SHAPE, '$1 [redacted]');
}

/**
 * The one place an HTTP status of a vendor becomes an error code. Vendor clients call it after
 * handling what is special to them (their envelopes, their throttle statuses). Only a validation
 * error carries the vendor's words to the client; the rest have fixed messages, and what the
 * vendor said goes to the operator's log.
 */
export function errorFromStatus(vendor: VendorName, answer: VendorAnswer): SwitchboardError {
  const detail = answer.payload ?? answer.message;
  const opts = { vendor, detail };
  const s = answer.status;
  if (s === 400 || s === 422) {
    return new BadUserInputError(vendorMessage(answer.message) ?? 'The vendor rejected the input', answer.field, opts);
  }
  if (s === 401) return new UnauthenticatedError('The vendor refused the login', opts);
  if (s === 403) return new ForbiddenError('The vendor refused this action for this login', opts);
  if (s === 404) return new NotFoundError('The vendor has no such record', opts);
  if (s === 409) return new ConflictError('The vendor reported a conflict', opts);
  if (s === 429) return new RateLimitedError(answer.retryAfterSeconds ?? 1, 'The vendor is throttling requests', opts);
  if (s === 502 || s === 503 || s === 504) {
    return new UpstreamUnavailableError(vendor, `The vendor is unavailable (HTTP ${s})`, { detail });
  }
  return new UpstreamError(vendor, `The vendor answered HTTP ${s}`, { detail });
}

const MAX_LOGGED_DETAIL = 300;

/** A vendor's answer as the operator's log keeps it: token-shaped text removed, cut short. */
export function detailForLog(detail: string): string {
  const text = scrubTokens(detail).replace(/\s+/g, ' ').trim();
  return text.length > MAX_LOGGED_DETAIL ? `${text.slice(0, MAX_LOGGED_DETAIL)}…` : text;
}

/** The code an error will be answered with, for metrics: ours, Apollo's request-level one, or masked. */
export function errorCodeOf(error: GraphQLError): string {
  const original = error.originalError;
  if (original instanceof SwitchboardError) return original.code;
  return typeof error.extensions?.code === 'string' ? error.extensions.code : ErrorCode.INTERNAL_SERVER_ERROR;
}

/** Codes that Apollo Server itself produces for request-level problems; they are safe to show. */
const APOLLO_REQUEST_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

const SUGGESTION = / ?Did you mean .+\?$/;

export interface FormatErrorOptions {
  production: boolean;
  /** Called with every masked error, so it is logged server-side. */
  onMasked?: (error: unknown) => void;
  /** Called with every error that carries a vendor's answer, so the operator sees what the client does not. */
  onVendorDetail?: (error: SwitchboardError) => void;
}

/**
 * Apollo Server returns a plain Error's message verbatim even in production, so every error
 * that is not one of ours, nor a request-level error of Apollo's, is masked here.
 */
export function createFormatError(options: FormatErrorOptions) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof SwitchboardError) {
      if (original.detail !== undefined) options.onVendorDetail?.(original);
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { ...original.extensions },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && APOLLO_REQUEST_CODES.has(code) && !(original instanceof Error && !(original instanceof GraphQLError))) {
      const message = options.production ? formatted.message.replace(SUGGESTION, '') : formatted.message;
      const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, message, extensions: options.production ? extensions : formatted.extensions };
    }
    options.onMasked?.(original);
    return {
      message: options.production ? 'Internal server error' : `Internal server error: ${scrubTokens(String((original as Error)?.message ?? original))}`,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

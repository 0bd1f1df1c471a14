import type { IncomingHttpHeaders } from 'node:http';

/**
 * The checks every GraphQL request passes before anything executes it, on the fast path and
 * through Apollo Server alike: CSRF prevention, the body's media type, and the size of lists in
 * its variables. They live here, apart from both executors, so that no faster path can go around
 * them. (Lists written in the document are bounded by a validation rule, graphql/rules.ts.)
 */

/** A token of RFC 9110 (type and subtype names). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The media type's essence (`type/subtype`, lower case) as the WHATWG MIME Sniffing standard reads
 * it, which is how browsers decide whether a request is "simple"; undefined when it does not parse.
 */
export function mediaEssence(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  // Clients send the same header on every request (and each request reads it twice): the last
  // answer is kept, for a header of ordinary length.
  if (contentType === lastType) return lastEssence;
  const essence = parseEssence(contentType);
  if (contentType.length <= 256) {
    lastType = contentType;
    lastEssence = essence;
  }
  return essence;
}

let lastType: string | undefined;
let lastEssence: string | undefined;

function parseEssence(contentType: string): string | undefined {
  const semi = contentType.indexOf(';');
  const essence = (semi < 0 ? contentType : contentType.slice(0, semi)).trim();
  const slash = essence.indexOf('/');
  if (slash <= 0) return undefined;
  const type = essence.slice(0, slash);
  const subtype = essence.slice(slash + 1).trimEnd();
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  return `${type}/${subtype}`.toLowerCase();
}

/** What a browser may send cross-site without asking first (a CORS "simple" request). */
const SIMPLE_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
/** Headers a browser cannot add without a preflight, which Apollo's clients send. */
export const PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight'];

export const CSRF_MESSAGE =
  `This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please either specify a 'content-type' header ` +
  `(with a type that is not one of ${[...SIMPLE_TYPES].join(', ')}) or provide a non-empty value for one of the following headers: ${PREFLIGHT_HEADERS.join(', ')}\n`;

/**
 * Apollo Server's CSRF rule, applied before either executor: a request a browser could send
 * cross-site without a preflight (no content type, or a simple one) must carry a preflight header.
 */
export function csrfBlocked(headers: IncomingHttpHeaders): boolean {
  const contentType = headers['content-type'];
  if (contentType !== undefined) {
    const essence = mediaEssence(contentType);
    // A type a browser cannot parse is not safelisted either: it needs a preflight.
    if (essence === undefined || !SIMPLE_TYPES.has(essence)) return false;
  }
  return !PREFLIGHT_HEADERS.some((name) => {
    const value = headers[name];
    return typeof value === 'string' ? value.length > 0 : Array.isArray(value) && value.some((v) => v.length > 0);
  });
}

/** JSON bodies: `application/json` and any `+json` type. */
export function isJsonType(essence: string | undefined): boolean {
  return essence === 'application/json' || (essence !== undefined && essence.endsWith('+json'));
}

/**
 * The path of the first array in `value` longer than `limit` (e.g. `variables.userIds`), or
 * undefined. Walks the whole value: nested inputs carry lists too.
 */
export function oversizedList(value: unknown, limit: number, path = 'variables'): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > limit) return path;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v !== null && typeof v === 'object') {
        const found = oversizedList(v, limit, `${path}[${i}]`);
        if (found) return found;
      }
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== null && typeof v === 'object') {
        const found = oversizedList(v, limit, `${path}.${key}`);
        if (found) return found;
      }
    }
  }
  return undefined;
}

export function listLimitMessage(path: string, limit: number): string {
  return `${path}: a list may hold at most ${limit} items (GRAPHQL_MAX_LIST_ITEMS)`;
}


import { SwitchboardError, UpstreamError, type VendorName } from '../errors.js';
import type { UpstreamResponse } from './client.js';

/**
 * The base of every vendor client (after apollo datasource-rest's): reading answers and turning
 * them into errors happen here, through one hook each vendor overrides, `errorFromResponse`, so no
 * call site maps an answer by hand and no vendor parses JSON its own way.
 */
export abstract class VendorApi {
  protected abstract readonly vendor: VendorName;

  /** The one place this vendor's answers become gateway errors. */
  abstract errorFromResponse(res: UpstreamResponse): SwitchboardError;

  /** The answer when its status is one of `ok`; otherwise the error it means. */
  expect(res: UpstreamResponse, ok: readonly number[] = [200]): UpstreamResponse {
    if (ok.includes(res.status)) return res;
    throw this.failed(res, this.errorFromResponse(res));
  }

  /** The error an answer means, told to the call's span (when traced). */
  protected failed<E extends SwitchboardError>(res: UpstreamResponse, error: E): E {
    res.failed?.(error.code);
    return error;
  }

  /** The body as JSON, or UPSTREAM_ERROR (HTML, truncated text). What came goes to the operator's log. */
  json<T>(res: UpstreamResponse): T {
    const body = safeJson<T>(res);
    if (body === undefined) throw this.failed(res, new UpstreamError(this.vendor, `The vendor answered something that is not JSON (HTTP ${res.status})`, { detail: res.text }));
    return body;
  }

  /** The body as a JSON object, or UPSTREAM_ERROR. */
  object<T extends object>(res: UpstreamResponse, what: string): T {
    const body = this.json<unknown>(res);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw this.failed(res, new UpstreamError(this.vendor, `The vendor answered ${what} that is not an object`, { detail: res.text }));
    return body as T;
  }
}

const NOT_BLANK = /\S/;

/** The body as JSON, or undefined when it is empty or not JSON (error envelopes are optional). */
export function safeJson<T>(res: UpstreamResponse): T | undefined {
  // Not `trim()`: that copies an answer ending in a newline just to test it.
  if (!NOT_BLANK.test(res.text)) return undefined;
  try {
    return JSON.parse(res.text) as T;
  } catch {
    return undefined;
  }
}

import { type DeliveryError, PermanentError, RetryableError } from '../destinations/errors';
import type { RequestDescription, VendorAnswer } from '../destinations/types';
import { parseRetryAfter } from './backoff';
import { describeUrlProblem, urlProblem } from './ssrf';

/** How much of a vendor's answer is kept with a result or failure. */
export const MAX_ANSWER_CHARS = 2000;

/** The result of one request: delivered with the vendor's answer, or a typed error. */
export type Performed =
  | { ok: true; status: number; body: string; headers: Headers; durationMs: number }
  | {
      ok: false;
      error: DeliveryError;
      failure: 'timeout' | 'network' | 'status' | 'refused';
      durationMs: number;
      /** The vendor's answer headers, when it answered. */
      headers?: Headers;
    };

export interface PerformOptions {
  timeoutMs: number;
  allowLoopback: boolean;
  fetch?: typeof fetch;
  now?: () => number;
  /** Reads errors some vendors report inside a 2xx body. */
  bodyError?: (answer: VendorAnswer) => string | undefined;
  /** Checks where the URL's name resolves (DoH, production mode): a problem refuses the request. */
  resolve?: (url: string) => Promise<string | undefined>;
}

/**
 * Classifies a vendor answer the way Segment does: 2xx delivered; 408, 429 and 5xx retryable
 * (honouring `Retry-After`); redirects and other 4xx permanent (sending again cannot help).
 */
export function classify(answer: VendorAnswer, now: number): DeliveryError | undefined {
  const { status, body } = answer;
  const response = body.slice(0, MAX_ANSWER_CHARS);
  if (status >= 200 && status < 300) return undefined;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(answer.headers.get('retry-after'), now);
    const what = status === 429 ? 'rate-limited the request' : `answered ${status}`;
    return new RetryableError(`The vendor ${what}; Tessera will retry with backoff`, {
      status,
      response,
      retryAfterMs,
    });
  }
  if (status >= 300 && status < 400) {
    const where = answer.headers.get('location') ?? 'another URL';
    return new PermanentError(`The vendor redirected to ${where}; set the destination to the final URL`, {
      status,
      response,
    });
  }
  const hint = status === 401 || status === 403 ? ': check the credentials in the settings' : '';
  return new PermanentError(`The vendor refused the request with ${status}${hint}`, { status, response });
}

/** Performs one request description with a timeout, the SSRF guard and no redirects. */
export async function perform(req: RequestDescription, opts: PerformOptions): Promise<Performed> {
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? Date.now;
  const started = now();
  const problem = urlProblem(req.url, { allowLoopback: opts.allowLoopback }) ?? (await opts.resolve?.(req.url));
  if (problem) {
    return {
      ok: false,
      failure: 'refused',
      durationMs: 0,
      error: new PermanentError(describeUrlProblem(req.url, problem)),
    };
  }
  try {
    const res = await doFetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    const body = (await res.text()).slice(0, MAX_ANSWER_CHARS);
    const answer: VendorAnswer = { status: res.status, headers: res.headers, body };
    const durationMs = now() - started;
    const error = classify(answer, now());
    if (error) return { ok: false, failure: 'status', durationMs, error, headers: res.headers };
    const reported = opts.bodyError?.(answer);
    if (reported) {
      const err = new PermanentError(`The vendor answered ${res.status} but reported: ${reported}`, {
        status: res.status,
        response: body,
      });
      return { ok: false, failure: 'status', durationMs, error: err, headers: res.headers };
    }
    return { ok: true, status: res.status, body, headers: res.headers, durationMs };
  } catch (err) {
    const durationMs = now() - started;
    const name = err instanceof Error ? err.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      const error = new RetryableError(`No answer within ${opts.timeoutMs} ms; Tessera will retry with backoff`);
      return { ok: false, failure: 'timeout', durationMs, error };
    }
    const message = err instanceof Error ? err.message : String(err);
    const error = new RetryableError(`Network error (${message}); Tessera will retry with backoff`);
    return { ok: false, failure: 'network', durationMs, error };
  }
}

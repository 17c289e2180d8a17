/**
 * The destination plug-in kit's errors (mappings throw them; the delivery consumer only reads
 * them). They are typed by what happens next, as Segment's action destinations do:
 * `RetryableError` → the event is retried with backoff (until the retry window closes), then
 * dead-lettered; `PermanentError` → the event goes straight to the dead-letter record, where it
 * waits for a fix and a replay. Mappings throw `PermanentError` for payloads a vendor can never take.
 */
export class DeliveryError extends Error {
  /** HTTP status of the vendor's answer, when there was one. */
  readonly status?: number;
  /** The vendor's answer (truncated), kept with the failure so people see what it said. */
  readonly response?: string;
  constructor(message: string, opts: { status?: number; response?: string } = {}) {
    super(message);
    this.name = new.target.name;
    this.status = opts.status;
    this.response = opts.response;
  }
}

/** Try again later: 429, 5xx, 408, timeouts, resets and other network errors. */
export class RetryableError extends DeliveryError {
  /** The vendor asked to wait at least this long (`Retry-After`). */
  readonly retryAfterMs?: number;
  constructor(message: string, opts: { status?: number; response?: string; retryAfterMs?: number } = {}) {
    super(message, opts);
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Never retry as is: other 4xx, redirects, invalid payloads, blocked URLs. */
export class PermanentError extends DeliveryError {}

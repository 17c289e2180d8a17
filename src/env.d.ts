// Secrets are not in wrangler.toml, so `wrangler types` cannot see them; they are declared here.
declare namespace Cloudflare {
  interface Env {
    /** Bootstrap admin token: a request bearing it has every scope. Set with `wrangler secret put`. */
    ADMIN_TOKEN?: string;
    /**
     * The deployment's public URL (`https://cdp.example.com`), named in the served analytics.js and
     * its CDN settings. Optional: without it the request's Host is used (validated, not publicly cached).
     */
    PUBLIC_URL?: string;
    /**
     * Key PII trait values and destination secrets are sealed with (AES-256-GCM, src/privacy/pii.ts).
     * Unset: stored as sent. `PII_KEY_PREVIOUS` (comma-separated) still opens values older keys
     * sealed; `PII_INDEX_KEY` keys the blind index of emails and phones (defaults to `PII_KEY`).
     */
    PII_KEY?: string;
    PII_KEY_PREVIOUS?: string;
    PII_INDEX_KEY?: string;
    /** Rate-limit tier of sources without their own (strict, standard, high, off); default standard. */
    RATE_LIMIT_DEFAULT_TIER?: string;
    /** Usage meter: seconds between flushes of an isolate's counters (default 60). */
    USAGE_FLUSH_SECONDS?: string;
    /** Usage meter: JSON of unit → dollars per million, over the list prices (src/usage/prices.ts). */
    USAGE_PRICES?: string;
  }
}

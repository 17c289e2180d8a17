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
    /** Usage meter: seconds between flushes of an isolate's counters (default 60). */
    USAGE_FLUSH_SECONDS?: string;
    /** Usage meter: JSON of unit → dollars per million, over the list prices (src/usage/prices.ts). */
    USAGE_PRICES?: string;
  }
}

// Secrets are not in wrangler.toml, so `wrangler types` cannot see them; they are declared here.
declare namespace Cloudflare {
  interface Env {
    /** Bootstrap admin token: a request bearing it has every scope. Set with `wrangler secret put`. */
    ADMIN_TOKEN?: string;
  }
}

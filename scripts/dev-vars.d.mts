// Types for scripts/dev-vars.mjs (used by the plain-wrangler end-to-end test).

/** KEY=value lines of a dotenv-style file (comments and blank lines skipped). */
export declare function parseVars(text: string): Record<string, string>;

/** Fills in `<root>/.dev.vars` from `<root>/.dev.vars.example`; existing values are kept. */
export declare function ensureDevVars(root?: string): {
  path: string;
  vars: Record<string, string>;
  added: string[];
};

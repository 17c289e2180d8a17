/**
 * Every scope a token may carry. `workspace:owner` implies all others; the bootstrap
 * `ADMIN_TOKEN` secret is an owner. Areas that have not landed yet keep their scopes here so
 * tokens made today stay valid when they do.
 */
export const SCOPES = [
  'workspace:owner',
  'sources:read',
  'sources:write',
  'destinations:read',
  'destinations:write',
  'engage:read',
  'engage:write',
  'governance:read',
  'governance:write',
  'functions:read',
  'functions:write',
  'profiles:read',
  'pii:read',
  'privacy:write',
  'audit:read',
  'tokens:write',
  'insights:read',
  'insights:write',
  'archive:read',
  'archive:write',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Scopes whose every use is written to the audit log, reads included. */
export const PRIVILEGED: ReadonlySet<Scope> = new Set([
  'workspace:owner',
  'pii:read',
  'privacy:write',
  'audit:read',
  'tokens:write',
  // Archive objects are raw events, PII included.
  'archive:read',
]);

/** True when a token with `held` may do what `needed` guards. A write scope does not imply read. */
export function grants(held: readonly Scope[], needed: Scope): boolean {
  return held.includes('workspace:owner') || held.includes(needed);
}

export const isScope = (s: string): s is Scope => (SCOPES as readonly string[]).includes(s);

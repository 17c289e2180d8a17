import { z } from 'zod';
import { DEFAULT_KINDS, type Identifier, KIND_PATTERN } from './identifiers';

/** Hard caps that no setting can lift (Segment's): merges into one profile and its identifiers. */
export const MAX_MERGES = 100;
export const MAX_IDENTIFIERS = 1000;

const IdentifierRule = z.object({
  priority: z.int().min(1).max(1000).describe('1 is the most important; the lowest is dropped first on a conflict'),
  limit: z
    .int()
    .min(1)
    .max(MAX_IDENTIFIERS)
    .describe('How many values of this kind one profile may hold (user_id: 1 means one person per user_id)'),
  window: z
    .enum(['ever', 'daily', 'weekly', 'monthly'])
    .optional()
    .describe('Over which period the limit counts values added to the profile (Segment: "5 Weekly"); ever if absent'),
});

/** Length of each limit window, in ms. */
export const WINDOW_MS = { daily: 86_400_000, weekly: 7 * 86_400_000, monthly: 30 * 86_400_000 } as const;

const validPattern = (source: string) => {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
};

/** Identity resolution rules of the workspace, as `GET/PUT /api/identity/settings` carry them. */
export const IdentitySettings = z
  .object({
    identifiers: z
      .record(z.string(), IdentifierRule)
      .describe('Per identifier kind: priority and limit. Kinds not listed rank after these, alphabetically'),
    defaultLimit: z.int().min(1).max(MAX_IDENTIFIERS).default(5).describe('Limit of kinds not listed'),
    blockedValues: z
      .array(z.string().max(1024))
      .max(500)
      .describe('Values never used as identifiers (exact match, case-insensitive, after trimming)'),
    blockedPatterns: z
      .array(z.string().min(1).max(500).refine(validPattern, 'must be a valid regular expression'))
      .max(100)
      .describe('Regular expressions; a value matching one is never used as an identifier'),
  })
  .superRefine((s, ctx) => {
    const byPriority = new Map<number, string>();
    for (const [kind, rule] of Object.entries(s.identifiers)) {
      if (!KIND_PATTERN.test(kind)) {
        ctx.addIssue({
          code: 'custom',
          path: ['identifiers', kind],
          message: 'identifier kinds are 1-64 letters, digits, _ . or -',
        });
      }
      const other = byPriority.get(rule.priority);
      if (other) {
        ctx.addIssue({
          code: 'custom',
          path: ['identifiers', kind, 'priority'],
          message: `priority ${rule.priority} is already used by ${other}; priorities must be unique`,
        });
      }
      byPriority.set(rule.priority, kind);
    }
  });
export type IdentitySettings = z.infer<typeof IdentitySettings>;

/** Segment's defaults: user_id then email first, the rest alphabetically; user_id 1, others 5. */
export function defaultSettings(): IdentitySettings {
  const rest = DEFAULT_KINDS.filter((k) => k !== 'user_id' && k !== 'email').sort();
  const identifiers: IdentitySettings['identifiers'] = {
    user_id: { priority: 1, limit: 1 },
    email: { priority: 2, limit: 5 },
  };
  rest.forEach((kind, i) => {
    // Browsers come and go, so anonymous_id gets a larger limit (DESIGN.md §3). Segment's own
    // default, 5 weekly, is one PUT away: { limit: 5, window: 'weekly' }.
    identifiers[kind] = { priority: i + 3, limit: kind === 'anonymous_id' ? 50 : 5 };
  });
  identifiers.group_id = { priority: 100, limit: 1 };
  return {
    identifiers,
    defaultLimit: 5,
    blockedValues: ['null', 'undefined', '0', '-1', 'anonymous', '[object Object]', ''],
    blockedPatterns: ['^[0-]*$'],
  };
}

/** Settings prepared for the hot path: regexes compiled, ranks computed. */
export interface Rules {
  settings: IdentitySettings;
  limitOf(kind: string): number;
  /** Total order, smaller is more important: configured priority, then kind name. */
  rankOf(kind: string): [number, string];
  isBlocked(value: string): boolean;
}

/** Compiles settings into `Rules`. */
export function compileRules(settings: IdentitySettings): Rules {
  const blocked = new Set(settings.blockedValues.map((v) => v.trim().toLowerCase()));
  const patterns = settings.blockedPatterns.map((p) => new RegExp(p));
  return {
    settings,
    limitOf: (kind) => settings.identifiers[kind]?.limit ?? settings.defaultLimit,
    rankOf: (kind) => [settings.identifiers[kind]?.priority ?? Number.MAX_SAFE_INTEGER, kind],
    isBlocked: (value) => blocked.has(value.trim().toLowerCase()) || patterns.some((p) => p.test(value)),
  };
}

/** Compares two kinds by importance: negative when `a` ranks higher (is kept longer) than `b`. */
export function compareRank(rules: Rules, a: string, b: string): number {
  const [pa, ka] = rules.rankOf(a);
  const [pb, kb] = rules.rankOf(b);
  return pa !== pb ? pa - pb : ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Removes blocked values; what is left may identify a profile. */
export function usable(rules: Rules, ids: Identifier[]): Identifier[] {
  return ids.filter((id) => !rules.isBlocked(id.value));
}

/** The part of the rules a Profile DO needs to enforce limits itself (plain data, sent over RPC). */
export interface LimitSpec {
  limits: Record<string, number>;
  defaultLimit: number;
  /** Kinds whose limit counts only values added within this many ms; absent kinds count all. */
  windows?: Record<string, number>;
}

/** Extracts the plain-data limits from rules. */
export function limitSpec(rules: Rules): LimitSpec {
  const limits: Record<string, number> = {};
  const windows: Record<string, number> = {};
  for (const [kind, rule] of Object.entries(rules.settings.identifiers)) {
    limits[kind] = rule.limit;
    if (rule.window && rule.window !== 'ever') windows[kind] = WINDOW_MS[rule.window];
  }
  return { limits, defaultLimit: rules.settings.defaultLimit, windows };
}

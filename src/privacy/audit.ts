import { sha256Hex } from '../lib/ids';

/** The hash that stands before the first entry of the chain. */
export const GENESIS = '0'.repeat(64);

/** One audit entry as it is hashed: every column but the hashes, in a fixed order. */
export interface AuditEntry {
  seq: number;
  id: string;
  at: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  target: string | null;
  ip: string | null;
  userAgent: string | null;
  /** JSON text of `{ before?, after?, request? }` with secrets masked. */
  changes: string | null;
}

/** The canonical text of an entry: a JSON array, so no field can bleed into another. */
export function canonical(e: AuditEntry): string {
  return JSON.stringify([e.seq, e.id, e.at, e.actorId, e.actorName, e.action, e.target, e.ip, e.userAgent, e.changes]);
}

/** `hash = SHA-256(prevHash ‖ canonical row)`. */
export function chainHash(prevHash: string, e: AuditEntry): Promise<string> {
  return sha256Hex(prevHash + canonical(e));
}

/** Where a recomputed chain first disagrees with the stored one, or null when it holds. */
export async function firstBreak(
  rows: readonly (AuditEntry & { prevHash: string; hash: string })[],
  prevHash: string,
  prevSeq: number,
): Promise<{ seq: number; id: string; reason: string } | null> {
  let prev = prevHash;
  let seq = prevSeq;
  for (const row of rows) {
    if (row.seq !== seq + 1) return { seq: row.seq, id: row.id, reason: `entry ${seq + 1} is missing` };
    if (row.prevHash !== prev) return { seq: row.seq, id: row.id, reason: 'prevHash does not match the entry before' };
    if ((await chainHash(prev, row)) !== row.hash) return { seq: row.seq, id: row.id, reason: 'entry was altered' };
    prev = row.hash;
    seq = row.seq;
  }
  return null;
}

// write_key and webhook_url: destination secrets (Segment's write key, Slack's webhook URL).
const SECRET_KEY = /secret|token|password|passwd|api_?key|write_?key|webhook_?url|private|credential|authorization/i;

/** How a masked secret reads: the last 4 characters of a long string, nothing of anything else. */
const masked = (v: unknown) => `****${typeof v === 'string' && v.length > 12 ? v.slice(-4) : ''}`;

/**
 * A copy of a JSON value with every secret field masked: any key that looks like a secret, and
 * inside a `settings` object any key in `declared` (what the resource's schema declares secret,
 * `declaredSecrets`), whatever its name or type of value.
 */
export function maskSecrets(
  value: unknown,
  declared: ReadonlySet<string> = new Set(),
  depth = 0,
  inSettings = false,
): unknown {
  if (depth > 20) return '[deep]';
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, declared, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        (SECRET_KEY.test(k) && typeof v === 'string') ||
        (inSettings && declared.has(k) && v !== null && v !== undefined)
          ? masked(v)
          : maskSecrets(v, declared, depth + 1, k === 'settings'),
      ]),
    );
  }
  return value;
}

/**
 * A copy of a JSON value with PII masked: the literals of audience conditions on PII traits
 * (`{ trait, value }` with `trait` one of `piiKeys`) and PII keys of any `traits` object (a
 * preview's or a test run's sample). The audit log is append-only and no regulation can erase it,
 * so the email an audience or a sample names is never written into it.
 */
export function maskPiiLiterals(value: unknown, piiKeys: ReadonlySet<string>, depth = 0, inTraits = false): unknown {
  if (depth > 40 || !value || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskPiiLiterals(v, piiKeys, depth + 1));
  const o = value as Record<string, unknown>;
  const literal = typeof o.trait === 'string' && piiKeys.has(o.trait.split('.')[0]) && 'value' in o;
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [
      k,
      (literal && k === 'value') || (inTraits && piiKeys.has(k) && v !== null)
        ? '****'
        : maskPiiLiterals(v, piiKeys, depth + 1, k === 'traits'),
    ]),
  );
}

/**
 * The setting names declared secret anywhere in these JSON values: a destination's (an object
 * whose `type` names a destination type, `secretsOf` answering its `secrets`) and a function's (a
 * settings declaration `{ name, secret: true }`).
 */
export function declaredSecrets(
  values: readonly unknown[],
  secretsOf: (type: string) => readonly string[] | undefined,
): Set<string> {
  const out = new Set<string>();
  const visit = (v: unknown, depth: number) => {
    if (depth > 20 || !v || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v) visit(x, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    if (typeof o.type === 'string') for (const k of secretsOf(o.type) ?? []) out.add(k);
    if (o.secret === true && typeof o.name === 'string') out.add(o.name);
    for (const x of Object.values(o)) visit(x, depth + 1);
  };
  for (const v of values) visit(v, 0);
  return out;
}

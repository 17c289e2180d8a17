import type { Context } from 'hono';
import { routePath } from 'hono/route';
import type { AdminEnv } from '../admin/auth';
import { grants } from '../admin/scopes';
import { normalizeValue } from '../identity/identifiers';
import { clientIp } from '../lib/http/auth';
import type { ReadResult } from '../profiles/rpc';
import { appendAudit } from './audit-store';
import { blindValue, isBlind, isSealed, maskValue, openDeep } from './pii';
import { loadPii, maskEvent, type Pii } from './pii-guard';

type Live = Extract<ReadResult, { status: 'live' }>;

/** How one request may see PII: in clear (`pii:read`, owners included) or masked. */
export interface PiiReader {
  pii: Pii;
  clear: boolean;
}

export async function piiReader(c: Context<AdminEnv>): Promise<PiiReader> {
  const principal = c.get('principal');
  return { pii: await loadPii(c.env), clear: !!principal && grants(principal.scopes, 'pii:read') };
}

const open = async (r: PiiReader, v: unknown) => (r.pii.ring ? openDeep(r.pii.ring, v) : v);

/** A stored event body (JSON text) opened, then masked for a reader without `pii:read`. */
async function eventBody(r: PiiReader, body: string): Promise<string> {
  let e = JSON.parse(body) as Record<string, unknown>;
  if (body.includes('"pii1.')) e = (await open(r, e)) as Record<string, unknown>;
  return JSON.stringify(r.clear ? e : maskEvent(r.pii.keys, e));
}

/** A profile read as this reader may see it: sealed values opened, PII masked without `pii:read`. */
export async function protectProfile(r: PiiReader, live: Live): Promise<Live> {
  const show = async (key: string, v: unknown) => {
    const clear = await open(r, v);
    return r.clear || !r.pii.keys.has(key) ? clear : maskValue(clear);
  };
  return {
    ...live,
    traits:
      live.traits && (await Promise.all(live.traits.map(async (t) => ({ ...t, value: await show(t.key, t.value) })))),
    identifiers:
      live.identifiers &&
      (await Promise.all(live.identifiers.map(async (i) => ({ ...i, value: String(await show(i.kind, i.value)) })))),
    events:
      live.events && (await Promise.all(live.events.map(async (e) => ({ ...e, body: await eventBody(r, e.body) })))),
  };
}

/** Did a profile read hand PII out in clear (so it must be audited)? */
export function showsPii(r: PiiReader, live: Live): boolean {
  if (!r.clear) return false;
  return (
    !!live.traits?.some((t) => r.pii.keys.has(t.key) && t.value != null) ||
    !!live.identifiers?.some((i) => r.pii.keys.has(i.kind)) ||
    !!live.events?.length
  );
}

/** Directory traits (sealed at rest) as this reader may see them. */
export async function protectTraits(r: PiiReader, traits: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(traits)) {
    const clear = isSealed(v) ? await open(r, v) : v;
    out[k] = r.clear || !r.pii.keys.has(k) ? clear : maskValue(clear);
  }
  return out;
}

/**
 * A directory identifier key as shown: a blind-indexed one (`email:bi1.…`) cannot be reversed,
 * so it shows the profile's trait of the same name when that is the value indexed.
 */
export async function showIdentifier(
  r: PiiReader,
  key: string,
  openedTraits: Record<string, unknown>,
): Promise<string> {
  const i = key.indexOf(':');
  const kind = key.slice(0, i);
  const value = key.slice(i + 1);
  if (!isBlind(value)) return r.clear || !r.pii.keys.has(kind) ? key : `${kind}:${maskValue(value)}`;
  const trait = normalizeValue(kind, openedTraits[kind]);
  const same =
    trait !== undefined &&
    r.pii.ring &&
    (await blindValue(r.pii.ring, kind, trait)).toLowerCase() === value.toLowerCase();
  if (!same) return `${kind}:[protected]`;
  return `${kind}:${r.clear ? trait : maskValue(trait)}`;
}

/** Blind-index search terms for `?q=`: what the directory's search text holds for that value as each PII kind. */
export async function blindTerms(pii: Pii, q: string): Promise<string[]> {
  if (!pii.ring || !q) return [];
  const out: string[] = [];
  for (const kind of pii.keys) {
    const v = normalizeValue(kind, q);
    if (v !== undefined) out.push(`${kind}:${await blindValue(pii.ring, kind, v)}`.toLowerCase());
  }
  return out;
}

/** Writes an unmasked PII read to the audit log (owners' reads included: PII reads are always recorded). */
export async function auditPiiRead(c: Context<AdminEnv>, target: string, detail: Record<string, unknown>) {
  const principal = c.get('principal');
  if (!principal) return;
  let pattern = c.req.path;
  try {
    pattern = routePath(c, -1);
  } catch {}
  await appendAudit(c.env.DB, {
    actorId: principal.id,
    actorName: principal.name,
    action: `pii:read ${c.req.method} ${pattern}`,
    target,
    ip: clientIp(c),
    userAgent: c.req.header('user-agent')?.slice(0, 500) ?? null,
    changes: JSON.stringify(detail),
  }).catch((err) => console.error('audit append failed', err));
}

/** A profile read for an API answer: protected for the caller, and audited when it shows PII in clear. */
export async function protectRead<T extends { id: string; profile: Live }>(c: Context<AdminEnv>, found: T): Promise<T> {
  const reader = await piiReader(c);
  const profile = await protectProfile(reader, found.profile);
  // The target names the profile, never the path: `…/profiles/email:jane@x.io/…` would put the
  // clear email into the audit log.
  if (showsPii(reader, profile)) await auditPiiRead(c, `profile ${found.id}`, { profileId: found.id });
  return { ...found, profile };
}

const lastPolledAudit = new Map<string, number>();

/**
 * Audits a clear read of something the console polls (the debugger, an audience while its
 * back-fill runs): at most once a minute per token and target (per isolate), not once per poll.
 */
export async function auditPolledRead(c: Context<AdminEnv>, target: string, detail: Record<string, unknown>) {
  const key = `${c.get('principal')?.id} ${target}`;
  if (Date.now() - (lastPolledAudit.get(key) ?? 0) <= 60_000) return;
  if (lastPolledAudit.size > 1000) lastPolledAudit.clear();
  lastPolledAudit.set(key, Date.now());
  await auditPiiRead(c, target, detail);
}

/** Debugger entries as the caller may see them; a clear read audited as a polled one. */
export async function protectEntries<T extends { event: unknown }>(
  c: Context<AdminEnv>,
  sourceId: string,
  entries: T[],
): Promise<T[]> {
  const reader = await piiReader(c);
  const out = await Promise.all(
    entries.map(async (e) => {
      const event = await open(reader, e.event);
      if (reader.clear || !event || typeof event !== 'object') return { ...e, event };
      return { ...e, event: maskEvent(reader.pii.keys, event as Record<string, unknown>) };
    }),
  );
  if (reader.clear && out.length) await auditPolledRead(c, `source ${sourceId} debugger`, { entries: out.length });
  return out;
}

/** A stored event (a dead letter's) as this reader may see it: opened, masked without `pii:read`. */
export async function protectEvent<T>(r: PiiReader, event: T): Promise<T> {
  const opened = (await open(r, event)) as T;
  if (r.clear || !opened || typeof opened !== 'object') return opened;
  return maskEvent(r.pii.keys, opened as Record<string, unknown>) as T;
}

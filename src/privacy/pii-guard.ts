import { type Collection, extractIdentifiers, keyOf } from '../identity/identifiers';
import type { EnrichedEvent, IngestMessage } from '../ingest/spec';
import { isObject } from '../lib/json';
import {
  blindValue,
  hasSealed,
  keyringFrom,
  maskFields,
  openDeep,
  type PiiKeyring,
  type PiiSecrets,
  seal,
  sealFields,
} from './pii';
import { loadPiiKeys } from './pii-settings';

/** What a worker needs to protect PII: the keyring (null when `PII_KEY` is unset) and the PII trait keys. */
export interface Pii {
  ring: PiiKeyring | null;
  keys: ReadonlySet<string>;
}

// Keys are derived once per isolate (and again only if the secrets change). Never at top level:
// Workers refuse crypto work outside a request.
let ringCache: { stamp: string; ring: Promise<PiiKeyring | null> } | undefined;

/** The keyring of this environment's secrets. */
export function piiKeyring(env: Env): Promise<PiiKeyring | null> {
  const s = env as unknown as PiiSecrets;
  const stamp = `${s.PII_KEY ?? ''}|${s.PII_KEY_PREVIOUS ?? ''}|${s.PII_INDEX_KEY ?? ''}`;
  if (ringCache?.stamp !== stamp) ringCache = { stamp, ring: keyringFrom(s) };
  return ringCache.ring;
}

export async function loadPii(env: Env): Promise<Pii> {
  const [ring, keys] = await Promise.all([piiKeyring(env), loadPiiKeys(env.DB)]);
  return { ring, keys };
}

/** `kind:value` as the identity index stores it: the blind index for a PII kind (email, phone). */
export async function indexKey(pii: Pii, kind: string, value: string): Promise<string> {
  if (!pii.ring || !pii.keys.has(kind)) return `${kind}:${value}`;
  return `${kind}:${await blindValue(pii.ring, kind, value)}`;
}

/** The event as profiles store it: PII keys of `traits` and `context.traits` sealed. */
export async function sealEvent(pii: Pii, event: EnrichedEvent): Promise<EnrichedEvent> {
  if (!pii.ring) return event;
  const ring = pii.ring;
  const out = { ...event } as EnrichedEvent & { traits?: unknown };
  if (isObject(out.traits)) out.traits = await sealFields(ring, out.traits, pii.keys);
  if (isObject(out.context) && isObject(out.context.traits)) {
    out.context = { ...out.context, traits: await sealFields(ring, out.context.traits, pii.keys) };
  }
  return out;
}

/** A copy of an event with PII keys of `traits` and `context.traits` masked (for readers without pii:read). */
export function maskEvent<T extends Record<string, unknown>>(keys: ReadonlySet<string>, event: T): T {
  const out: Record<string, unknown> = { ...event };
  if (isObject(out.traits)) out.traits = maskFields(out.traits, keys);
  if (isObject(out.context) && isObject(out.context.traits)) {
    out.context = { ...out.context, traits: maskFields(out.context.traits, keys) };
  }
  return out as T;
}

/** Opens every sealed value of an event (delivery: vendors get what the client sent). */
export async function openEvent<T>(ring: PiiKeyring | null, event: T): Promise<T> {
  return (await openDeep(ring, event)) as T;
}

/**
 * The PII work of one ingest batch, done up front because identity resolution plans
 * synchronously: the blind index of every PII identifier, its sealed value (what the profile
 * shows as the external id), and each event as profiles store it.
 */
export class IngestPii {
  private readonly blind = new Map<string, string>();
  private readonly sealedValues = new Map<string, string>();
  private readonly stored = new Map<IngestMessage, IngestMessage>();

  private constructor(private readonly pii: Pii) {}

  /** Nothing to protect: keys and events pass through. */
  static readonly none = new IngestPii({ ring: null, keys: new Set() });

  static async prepare(pii: Pii, msgs: readonly IngestMessage[]): Promise<IngestPii> {
    const out = new IngestPii(pii);
    if (!pii.ring) return out;
    for (const msg of msgs) {
      for (const collection of ['users', 'accounts'] as Collection[]) {
        for (const id of extractIdentifiers(msg.event, collection)) {
          const clear = keyOf(id);
          if (!pii.keys.has(id.kind) || out.blind.has(clear)) continue;
          const key = await indexKey(pii, id.kind, id.value);
          out.blind.set(clear, key);
          out.sealedValues.set(key, await seal(pii.ring, id.value));
        }
      }
      out.stored.set(msg, { ...msg, event: await sealEvent(pii, msg.event) });
    }
    return out;
  }

  /** The index key of a clear identifier key. */
  key = (clear: string): string => this.blind.get(clear) ?? clear;

  /** The message as the profile stores it. */
  message = (msg: IngestMessage): IngestMessage => this.stored.get(msg) ?? msg;

  /** Sealed values of the blind keys among `keys`, for the profile's identifier rows. */
  values(keys: readonly string[]): Record<string, string> | undefined {
    const out: Record<string, string> = {};
    for (const k of keys) {
      const v = this.sealedValues.get(k);
      if (v) out[k] = v;
    }
    return Object.keys(out).length ? out : undefined;
  }
}

/**
 * Bodies of queue messages that hold sealed values, opened, by message id (the others are left
 * out). A body that cannot be read is left to the caller's own reading, which records it.
 */
export async function openBodies<T>(env: Env, messages: readonly Message<T>[]): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  const ring = await piiKeyring(env);
  if (!ring) return out;
  for (const msg of messages) {
    try {
      const body = msg.body;
      if (hasSealed(body)) out.set(msg.id, (await openDeep(ring, body)) as T);
    } catch {}
  }
  return out;
}

/** Debugger entries as the debugger object stores them: each event's PII trait values sealed. */
export async function sealEntries<T extends { event: unknown }>(env: Env, entries: T[]): Promise<T[]> {
  const pii = await loadPii(env);
  if (!pii.ring) return entries;
  return Promise.all(
    entries.map(async (e) =>
      isObject(e.event) ? { ...e, event: await sealEvent(pii, e.event as unknown as EnrichedEvent) } : e,
    ),
  );
}

/** A dead letter as D1 keeps it: its event's PII trait values sealed. */
export async function sealFailure<T extends { event: EnrichedEvent }>(env: Env, failure: T): Promise<T> {
  const pii = await loadPii(env);
  return pii.ring ? { ...failure, event: await sealEvent(pii, failure.event) } : failure;
}

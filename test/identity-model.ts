import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { parseKey } from '../src/identity/identifiers';
import worker from '../src/index';
import type { IngestMessage } from '../src/ingest/spec';
import { indexKey, loadPii } from '../src/privacy/pii-guard';
import { profileStub } from '../src/profiles/protocol';
import { env, indexEntries, SELF } from './kit/workers';

/**
 * The model side of the identity property test: a seeded generator of people and their events,
 * a plain union-find over each event's identifiers, and a reader of what Tessera ended up with.
 */

/** mulberry32: a small seeded PRNG, so a failing seed can be replayed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: T[]) => xs[int(xs.length)];
  const shuffle = <T>(xs: T[]) => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  };
  return { next, int, pick, shuffle };
}

interface Person {
  user?: string;
  anons: string[];
  email?: string;
  devices: string[];
}

/** A generated event and the identifier keys Tessera should read from it. */
export interface ModelEvent {
  body: Record<string, unknown> & { messageId: string };
  keys: string[];
}

/**
 * People with user ids, browsers, emails and devices, and their events. With `shared`, some
 * devices and browsers are used by several people (a shared iPad, a family laptop): identifiers
 * then conflict on user_id and merge protection must split them.
 */
export function generate(seed: number, opts: { people: number; events: number; shared: boolean }) {
  const r = prng(seed);
  const p = `s${seed}-`;
  const people: Person[] = Array.from({ length: opts.people }, (_, i) => ({
    user: r.next() < 0.8 ? `${p}u${i}` : undefined,
    anons: Array.from({ length: 1 + r.int(3) }, (_, j) => `${p}a${i}.${j}`),
    email: r.next() < 0.5 ? `${p}E${i}@Example.com` : undefined,
    devices: Array.from({ length: r.int(3) }, (_, j) => `${p}d${i}.${j}`),
  }));
  if (opts.shared) {
    const sharedDevices = Array.from({ length: Math.ceil(opts.people / 8) }, (_, j) => `${p}shared-d${j}`);
    const sharedAnons = Array.from({ length: Math.ceil(opts.people / 10) }, (_, j) => `${p}shared-a${j}`);
    for (const person of people) {
      if (r.next() < 0.3) person.devices.push(r.pick(sharedDevices));
      if (r.next() < 0.2) person.anons.push(r.pick(sharedAnons));
    }
  }
  // Recent timestamps: the event log keeps 90 days, and a profile's alarm prunes older events.
  const base = Date.now() - 86_400_000;
  const events: ModelEvent[] = [];
  for (let n = 0; n < opts.events; n++) {
    const who = r.pick(people);
    const anonymousId = r.pick(who.anons);
    const messageId = `${p}m${n}`;
    const timestamp = new Date(base + r.int(86_400_000)).toISOString();
    const kind = r.int(4);
    if (kind === 0 && (who.user || who.email)) {
      const traits: Record<string, unknown> = { plan: r.pick(['free', 'pro', 'team']) };
      if (who.email && r.next() < 0.7) traits.email = who.email;
      const body = { type: 'identify', messageId, timestamp, anonymousId, userId: who.user, traits };
      const keys = [`anonymous_id:${anonymousId}`];
      if (who.user) keys.push(`user_id:${who.user}`);
      if (traits.email) keys.push(`email:${who.email!.toLowerCase()}`);
      events.push({ body, keys });
    } else if (kind === 1 && who.devices.length) {
      const device = r.pick(who.devices);
      const body = {
        type: 'screen',
        name: 'Home',
        messageId,
        timestamp,
        anonymousId,
        context: { device: { id: device, type: 'ios' } },
      };
      events.push({ body, keys: [`anonymous_id:${anonymousId}`, `ios.id:${device}`] });
    } else if (kind === 2 && who.user) {
      events.push({
        body: { type: 'track', event: 'Ordered', messageId, timestamp, userId: who.user },
        keys: [`user_id:${who.user}`],
      });
    } else {
      events.push({
        body: { type: 'track', event: 'Viewed', messageId, timestamp, anonymousId },
        keys: [`anonymous_id:${anonymousId}`],
      });
    }
  }
  return { prefix: p, events };
}

/** Plain union-find over the identifier keys of the events: the partition Tessera must reach. */
export function unionFind(events: ModelEvent[]): Map<string, string> {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    if (!parent.has(k)) parent.set(k, k);
    let x = k;
    while (parent.get(x) !== x) x = parent.get(x)!;
    parent.set(k, x);
    return x;
  };
  for (const e of events) for (const k of e.keys.slice(1)) parent.set(find(k), find(e.keys[0]));
  for (const e of events) find(e.keys[0]);
  return new Map([...parent.keys()].map((k) => [k, find(k)]));
}

/** Hands messages to the worker's queue handler directly, as a parallel consumer invocation. */
export async function consumeDirectly(messages: IngestMessage[], attempt = 1): Promise<IngestMessage[]> {
  const batch = createMessageBatch<IngestMessage>(
    'tessera-ingest',
    messages.map((body, i) => ({ id: `${body.event.messageId}#${i}`, timestamp: new Date(), attempts: attempt, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env);
  const result = await getQueueResult(batch, ctx);
  const retried = new Set(result.retryMessages.map((m) => m.msgId));
  return messages.filter(
    (m, i) => retried.has(`${m.event.messageId}#${i}`) || !result.explicitAcks.includes(`${m.event.messageId}#${i}`),
  );
}

/** What Tessera holds for identifiers starting with `prefix`: live profiles and their content. */
export async function observe(prefix: string, known: readonly string[] = []) {
  // Emails and phones are indexed blind (src/privacy): `known` clear keys name them again.
  const clearOf = await blindKeys(known);
  const entries = Object.entries(await indexEntries())
    .map(([k, v]) => [clearOf.get(k) ?? k, v] as const)
    .filter(([k]) => k.slice(k.indexOf(':') + 1).startsWith(prefix));
  const live = new Map<string, { identifiers: string[]; messageIds: string[] }>();
  const rootOf = new Map<string, string>();
  const follow = async (id: string): Promise<string> => {
    let cur = id;
    for (let hop = 0; hop < 64; hop++) {
      const res = await profileStub(env, cur).read({ identifiers: true, messageIds: true });
      if (res.status === 'moved') {
        cur = res.to;
        continue;
      }
      if (res.status === 'live') {
        live.set(cur, {
          identifiers: (res.identifiers ?? []).map((r) => clearOf.get(r.key) ?? r.key),
          messageIds: res.messageIds ?? [],
        });
      }
      return cur;
    }
    throw new Error(`forward chain from ${id} too long`);
  };
  for (const owner of new Set(entries.map(([, v]) => v))) rootOf.set(owner, await follow(owner));
  const indexRoot = new Map(entries.map(([k, v]) => [k, rootOf.get(v)!]));
  return { indexRoot, live };
}

/** Blind index key → clear key, for the clear keys given. */
async function blindKeys(known: readonly string[]): Promise<Map<string, string>> {
  const pii = await loadPii(env);
  const out = new Map<string, string>();
  for (const key of new Set(known)) {
    const id = parseKey(key);
    if (!id) continue;
    const blind = await indexKey(pii, id.kind, id.value);
    if (blind !== key) out.set(blind, key);
  }
  return out;
}

export { SELF };

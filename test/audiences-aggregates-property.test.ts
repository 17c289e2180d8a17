// Seeded property test with real Profile objects: stored computed traits and audiences equal the
// brute-force reference (src/audiences/reference.ts) over the WHOLE history of each profile —
// including events older than the log's retention (pruned by the alarm), redelivered messages,
// the same message applied to two profiles, and chains of merges.
import { env, runDurableObjectAlarm } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { emptyValue } from '../src/audiences/aggregate';
import { Audience, COMPUTED_TRAIT_TYPES, ComputedTrait } from '../src/audiences/definitions';
import { type ReferenceDefinitions, referenceEvaluate } from '../src/audiences/reference';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { prng, type Rng } from '../src/lib/prng';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { define, ingestMessage, profileObject, uniq } from './kit/workers';

const HOUR = 3_600_000;
const NAMES = ['Order Completed', 'Page Viewed', 'Signed Up'];
const WHERES = [undefined, 'properties.total > 10', "properties.cat in ['a', 'b']", "type = 'track'"];
// 120d outlives the log's 90-day retention: its match rows are kept for it.
const WINDOWS = [undefined, undefined, '1d', '7d', '30d', '120d'];
const limits = limitSpec(compileRules(defaultSettings()));
// Event times sit half an hour off whole hours and windows are whole days, so no window edge
// passes while the test runs: the objects' evaluation instant and the reference's agree.
const NOW = Date.now();

function definitions(r: Rng): ReferenceDefinitions {
  const computedTraits = COMPUTED_TRAIT_TYPES.flatMap((type, i) =>
    [0, 1].map((j) =>
      ComputedTrait.parse({
        key: `pa_${i}_${j}`,
        name: `pa ${i} ${j}`,
        type,
        event: r.pick([...NAMES, '*']),
        where: r.pick(WHERES),
        within: j === 0 ? undefined : r.pick(WINDOWS.slice(2)),
        property: type === 'count' ? undefined : r.pick(['properties.total', 'properties.cat']),
      }),
    ),
  );
  const event = () => {
    const c: Record<string, unknown> = { event: r.pick([...NAMES, '*']) };
    const where = r.pick(WHERES);
    if (where) c.where = where;
    const within = r.pick(WINDOWS);
    if (within) c.within = within;
    c.count = { [r.pick(['>=', '=', '<'])]: r.int(0, 4) };
    return c;
  };
  const audiences = Array.from({ length: 5 }, (_, i) =>
    Audience.parse({
      key: `pa_aud_${i}`,
      name: `pa aud ${i}`,
      definition:
        i === 4
          ? { or: [{ computed: 'pa_0_0', op: '>=', value: 3 }, { not: event() }] }
          : { and: [event(), r.chance(0.5) ? event() : { computed: computedTraits[i].key, op: 'exists' }] },
    }),
  );
  return { computedTraits, audiences };
}

function randomEvent(r: Rng): Record<string, unknown> {
  const hours = r.chance(0.1) ? -r.int(1, 48) : r.int(0, 24 * 200); // some in the future
  const properties: Record<string, unknown> = {};
  if (r.chance(0.8)) properties.total = r.pick([0, 5, 10, 15, 25, 50, 99, '12', null, true]);
  if (r.chance(0.8)) properties.cat = r.pick(['a', 'b', 'c', 'ab']);
  const timestamp = new Date(NOW - hours * HOUR - HOUR / 2).toISOString();
  if (r.chance(0.15)) return { type: 'identify', traits: { plan: 'pro' }, timestamp };
  if (r.chance(0.1)) return { type: 'page', name: 'Home', properties, timestamp };
  return { type: 'track', event: r.pick(NAMES), properties, timestamp };
}

let defs: ReferenceDefinitions;
beforeAll(async () => {
  defs = definitions(prng(7));
  for (const t of defs.computedTraits) await define('computed-traits', t);
  for (const a of defs.audiences) await define('audiences', a);
});

interface Model {
  id: string;
  key: string;
  events: Map<string, IngestMessage>;
}

async function check(p: Model, seed: number) {
  const stub = profileStub(env, p.id);
  const r = await stub.audienceValues();
  if (r.status !== 'live') throw new Error(`seed ${seed}: ${p.id} is ${r.status}`);
  const stored = Object.fromEntries(r.values.map((v) => [v.key, v.value]));
  const events = [...p.events.values()]
    .map((m) => ({ ...m.event, timestamp: Date.parse(m.event.timestamp) }))
    .sort((a, b) => a.timestamp - b.timestamp || (a.messageId < b.messageId ? -1 : 1));
  const want = referenceEvaluate(defs, { traits: {}, events }, Date.now());
  const got = {
    computed: Object.fromEntries(
      defs.computedTraits.map((t) => [t.key, t.key in stored ? stored[t.key] : emptyValue(t.type)]),
    ),
    audiences: Object.fromEntries(defs.audiences.map((a) => [a.key, stored[a.key] === true])),
  };
  expect(got, `seed ${seed}, profile ${p.id}, ${events.length} events`).toEqual(want);
}

describe('running aggregates in real Profile objects', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`equal the reference over the whole history across retention, redelivery and merges (seed ${seed})`, async () => {
      const r = prng(seed);
      const ids = [mintProfileId('users'), mintProfileId('users'), mintProfileId('users')].sort();
      const live: Model[] = ids.map((id, i) => ({
        id,
        key: i === 0 ? `user_id:${uniq('pu')}` : `anonymous_id:${uniq('pa')}`,
        events: new Map(),
      }));
      const sent: IngestMessage[] = [];
      const apply = async (p: Model, messages: IngestMessage[]) => {
        const res = await profileStub(env, p.id).apply({
          profileId: p.id,
          collection: 'users',
          keys: [p.key],
          messages,
          limits,
          emit: false,
        });
        expect(res.status, `seed ${seed}`).toBe('ok');
        for (const m of messages) p.events.set(m.event.messageId, m);
      };
      for (let op = 0; op < 24; op++) {
        const roll = r.int(0, 9);
        if (roll <= 5 || live.length === 1) {
          const batch = Array.from({ length: r.int(1, 4) }, () =>
            sent.length && r.chance(0.25)
              ? r.pick(sent) // redelivery: to the same profile, or one that never saw it
              : ingestMessage(randomEvent(r), { messageId: uniq('pm'), sourceId: 'src_prop' }),
          );
          sent.push(...batch);
          await apply(r.pick(live), [...new Map(batch.map((m) => [m.event.messageId, m])).values()]);
        } else if (roll <= 7) {
          await runDurableObjectAlarm(profileObject(r.pick(live).id)); // retention: old events leave the log
        } else {
          const li = r.int(1, live.length - 1);
          const loser = live[li];
          const survivor = live[r.int(0, li - 1)];
          const res = await profileStub(env, loser.id).mergeInto({
            profileId: loser.id,
            survivorId: survivor.id,
            reason: 'property',
            limits,
          });
          expect(res.status, `seed ${seed}`).toBe('merged');
          for (const [id, m] of loser.events) survivor.events.set(id, m);
          live.splice(li, 1);
        }
      }
      for (const p of live) {
        await runDurableObjectAlarm(profileObject(p.id));
        // A fresh evaluation after the last prune.
        await apply(p, [ingestMessage(randomEvent(r), { messageId: uniq('pm'), sourceId: 'src_prop' })]);
        await check(p, seed);
      }
    }, 60_000);
  }
});

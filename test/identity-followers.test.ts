// A new user's identify and the events after it that bring no other identifier go to its Profile
// in one apply (src/identity/resolver.ts `followersOf`): one call and one transaction, not two.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { type Outcome, Resolver } from '../src/identity/resolver';
import { loadRules } from '../src/identity/settings-store';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { uniq } from './kit/workers';

function message(body: Record<string, unknown>): IngestMessage {
  const ts = new Date().toISOString();
  return {
    sourceId: 'src_followers_test',
    event: { messageId: uniq('m'), receivedAt: ts, timestamp: ts, originalTimestamp: ts, context: {}, ...body },
  } as IngestMessage & { event: EnrichedEvent };
}

/** The real bindings, with the Profile objects' `apply` calls counted. */
function countingEnv() {
  const applies: number[] = [];
  const ns = env.PROFILE;
  const PROFILE = new Proxy(ns, {
    get(target, prop) {
      if (prop !== 'get') return Reflect.get(target, prop).bind?.(target) ?? Reflect.get(target, prop);
      return (id: DurableObjectId) => {
        const stub = target.get(id);
        return new Proxy(stub, {
          get(s, p) {
            if (p === 'apply')
              return (input: { messages: unknown[] }) => {
                applies.push(input.messages.length);
                return s.apply(input as never);
              };
            return Reflect.get(s, p);
          },
        });
      };
    },
  });
  return { env: { ...env, PROFILE } as Env, applies };
}

describe('resolver: a new user in one apply', () => {
  it('applies the identify and the tracks after it together; each event keeps its own delivery', async () => {
    const rules = await loadRules(env.DB);
    const userId = uniq('fol');
    const msgs = [
      message({ type: 'identify', userId, anonymousId: `${userId}-anon`, traits: { plan: 'free' } }),
      ...[1, 2, 3].map((n) => message({ type: 'track', userId, event: `Step ${n}` })),
      // Another identifier: not the identify's, so it is resolved on its own.
      message({ type: 'track', userId, anonymousId: `${userId}-other`, event: 'Elsewhere' }),
    ];
    const counted = countingEnv();
    const results = (await new Resolver(counted.env, rules, undefined, { again: new Set() }).ingestAll(
      msgs,
    )) as Outcome[];
    for (const r of results) expect(r).not.toBeInstanceOf(Error);
    expect(new Set(results.map((r) => r.profileId)).size).toBe(1);
    // One apply for the identify and its three tracks, one for the event with a new anonymousId.
    expect(counted.applies).toEqual([4, 1]);
    expect(results.map((r) => r.outbound.map((o) => o.event.messageId))).toEqual(msgs.map((m) => [m.event.messageId]));
  });

  it('the same without hand-over (deliveries through the outbox)', async () => {
    const rules = await loadRules(env.DB);
    const userId = uniq('fol-solo');
    const msgs = [message({ type: 'identify', userId, traits: {} }), message({ type: 'track', userId, event: 'Next' })];
    const counted = countingEnv();
    const results = (await new Resolver(counted.env, rules).ingestAll(msgs)) as Outcome[];
    expect(results.map((r) => r.profileId)).toEqual([results[0].profileId, results[0].profileId]);
    expect(counted.applies).toEqual([2]);
  });
});

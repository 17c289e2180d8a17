// Back-fill of a new audience over every existing profile, through the `work` queue, with progress
// in GET /api/audiences/:key and membership and sizes in D1.
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { DirectoryBatch } from '../src/profiles/directory';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { define, eventually, getJson, ingestMessage } from './kit/workers';

/** Existing profiles. Each costs workerd ~20 ms to create and ~15 ms to wake in this runtime, so 2000 keeps
 * the file around a minute and a half on two cores; the consumer pages the same way over any number. */
const PROFILES = 2000;
const DAY = 86_400_000;
const limits = limitSpec(compileRules(defaultSettings()));

const message = (i: number, event: Record<string, unknown>, at: number): IngestMessage =>
  ingestMessage(event, { messageId: `seed-${i}-${event.type}`, sourceId: 'src_seed', at: new Date(at).toISOString() });

/** Profile i: plan pro for every third, an order over 50 for odd i, 40 days ago for every fifth. */
const plan = (i: number) => (i % 3 === 0 ? 'pro' : 'free');
const expectedMember = (i: number) => i % 3 === 0 && i % 2 === 1 && i % 5 !== 0;

const ids: string[] = [];
beforeAll(async () => {
  const now = Date.now();
  const directory = new DirectoryBatch();
  let next = 0;
  const worker = async () => {
    while (next < PROFILES) {
      const i = next++;
      const id = mintProfileId('users');
      ids[i] = id;
      const userId = `bf-${i}`;
      const res = await profileStub(env, id).apply({
        profileId: id,
        collection: 'users',
        keys: [`user_id:${userId}`],
        messages: [
          message(i, { type: 'identify', userId, traits: { plan: plan(i) } }, now - 2 * DAY),
          message(
            i,
            { type: 'track', userId, event: 'Order Completed', properties: { total: i % 2 ? 80 : 20 } },
            now - (i % 5 === 0 ? 40 : 1) * DAY,
          ),
        ],
        limits,
        emit: false,
      });
      if (res.status !== 'ok') throw new Error(`seeding profile ${i}: ${res.status}`);
      directory.add(res.snapshot);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  await directory.flush(env.DB);
}, 480_000);

type Detail = {
  status: string;
  percent: number;
  size: number;
  history: { day: string; size: number; entered: number }[];
};

describe('audience back-fill', () => {
  it('computes a new audience over every existing profile, reporting progress until ready', async () => {
    const expected = new Set(ids.filter((_, i) => expectedMember(i)));
    await define('audiences', {
      key: 'pro_buyers',
      definition: {
        and: [
          { trait: 'plan', op: '=', value: 'pro' },
          { event: 'Order Completed', where: 'properties.total > 50', within: '30d' },
        ],
      },
    });
    const seen: { status: string; percent: number }[] = [];
    const done = await eventually(async () => {
      const r = await getJson<Detail>('/api/audiences/pro_buyers');
      seen.push({ status: r.body.status, percent: r.body.percent });
      return r.body.status === 'ready' ? r.body : undefined;
    }, 120_000);
    expect(done.percent).toBe(100);
    // Progress went up in steps while computing, and never backwards.
    const percents = seen.map((s) => s.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(seen.filter((s) => s.status === 'computing' && s.percent > 0 && s.percent < 100).length).toBeGreaterThan(0);

    // Membership reaches D1 in batches through the work queue shortly after.
    const sized = await eventually(async () => {
      const r = await getJson<Detail>('/api/audiences/pro_buyers');
      return r.body.size === expected.size ? r.body : undefined;
    }, 20_000);
    const today = new Date().toISOString().slice(0, 10);
    expect(sized.history[0]).toMatchObject({ day: today, size: expected.size, entered: expected.size });

    // Paged members equal the brute-force expectation.
    const members: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: { body: { data: { profileId: string }[]; next: string | null } } = await getJson(
        `/api/audiences/pro_buyers/members?limit=150${cursor ? `&cursor=${cursor}` : ''}`,
      );
      members.push(...page.body.data.map((m) => m.profileId));
      cursor = page.body.next;
    }
    expect(members.length).toBe(expected.size);
    expect(new Set(members)).toEqual(expected);
  }, 200_000);
});

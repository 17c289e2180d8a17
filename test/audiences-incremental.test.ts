// In-profile evaluation that stays exact and bounded: 100+ event names in definitions, running
// aggregates beyond the event log's retention, bounded reads on a large profile.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { compileRules, defaultSettings, limitSpec } from '../src/identity/settings';
import type { IngestMessage } from '../src/ingest/spec';
import { mintProfileId, profileStub } from '../src/profiles/protocol';
import { define } from './audience-helpers';
import { ingestMessage } from './helpers';
import { uniq } from './identity-helpers';

const limits = limitSpec(compileRules(defaultSettings()));
const message = (event: Record<string, unknown>, at?: string): IngestMessage =>
  ingestMessage(event, { messageId: uniq('m'), sourceId: 'src_incr', at });

function newProfile(id = mintProfileId('users')) {
  const stub = profileStub(env, id);
  const key = `user_id:${uniq('u')}`;
  const apply = (messages: IngestMessage[]) =>
    stub.apply({ profileId: id, collection: 'users', keys: [key], messages, limits, emit: false });
  const values = async () => {
    const r = await stub.audienceValues();
    if (r.status !== 'live') throw new Error(`profile is ${r.status}`);
    return Object.fromEntries(r.values.map((v) => [v.key, v.value]));
  };
  return { id, stub, apply, values };
}

describe('in-profile evaluation', () => {
  it('works with more than 100 distinct event names in the definitions (one bound parameter per list)', async () => {
    // Three audiences of 34 event conditions each: 102 names, over DO SQLite's 100 bound parameters.
    const names = Array.from({ length: 102 }, (_, i) => `Wide Event ${i}`);
    for (let a = 0; a < 3; a++) {
      await define('audiences', {
        key: `wide_${a}`,
        definition: { or: names.slice(a * 34, a * 34 + 34).map((event) => ({ event })) },
      });
    }
    await define('computed-traits', { key: 'wide_last', type: 'count', event: 'Wide Event 101' });
    const p = newProfile();
    await p.apply([message({ type: 'track', event: 'Wide Event 101' })]);
    expect(await p.values()).toEqual({ wide_2: true, wide_last: 1 });
  });
});

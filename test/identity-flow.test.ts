import { describe, expect, it } from 'vitest';
import { getJson, makeSource, sendBatch, uniq, userPath, waitForEvents } from './kit/workers';

describe('identity resolution through the ingest queue', () => {
  it('stitches anonymous activity to the user once identify links them', async () => {
    const { writeKey } = await makeSource();
    const anon = uniq('anon');
    const user = uniq('user');
    await sendBatch(writeKey, [
      { type: 'page', name: 'Home', anonymousId: anon },
      { type: 'track', event: 'Viewed', anonymousId: anon },
    ]);
    await waitForEvents(`anonymous_id:${anon}`, 2);
    await sendBatch(writeKey, [
      { type: 'identify', userId: user, anonymousId: anon, traits: { email: ' Ann@Example.COM ' } },
    ]);
    const id = await waitForEvents(`user_id:${user}`, 3);
    expect(await waitForEvents(`anonymous_id:${anon}`, 3)).toBe(id);
    expect(await waitForEvents('email:ann@example.com', 3)).toBe(id);
    const traits = await getJson<{ traits: Record<string, unknown> }>(userPath(`user_id:${user}`, 'traits'));
    expect(traits.body.traits).toEqual({ email: ' Ann@Example.COM ' });
  });
});

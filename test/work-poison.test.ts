// The `work` queue (audience membership changes, back-fill pages): one bad message fails only
// itself, and what fails every retry is kept in D1 (`work_failures`) and can be replayed.
import { describe, expect, it } from 'vitest';
import { consumeEngageWork } from '../src/audiences/backfill-consumer';
import { consumeWorkDlq } from '../src/audiences/work-failures';
import type { EngageWorkMessage } from '../src/audiences/work-messages';
import { rows, testBatch } from './kit/queue';
import { ADMIN, define, env, eventually, SELF, uniq } from './kit/workers';

interface WorkRow {
  message_id: string;
  queue: string;
  type: string | null;
  body: string | null;
  replayable: number;
  attempts: number;
  error: string | null;
}

const membership = (audienceId: string, profileId: string, at = Date.now()): EngageWorkMessage => ({
  type: 'engage.membership',
  changes: [{ audienceId, profileId, member: true, at }],
});
const members = async (audienceId: string) =>
  (
    await rows<{ profile_id: string }>(
      'SELECT profile_id FROM audience_members WHERE audience_id = ? ORDER BY profile_id',
      audienceId,
    )
  ).map((r) => r.profile_id);

async function audience() {
  const key = uniq('work').replaceAll('-', '_');
  return define('audiences', { key, definition: { trait: 'plan', op: '=', value: 'pro' } });
}

describe('work queue consumer: poison messages', () => {
  it('on the real queue, a malformed change and an unknown message are recorded; the valid change lands', {
    timeout: 30_000,
  }, async () => {
    const { id } = await audience();
    const marker = uniq('bad-work');
    const bad = {
      type: 'engage.membership',
      changes: [{ audienceId: id, profileId: marker, member: true, at: 'soon' }],
    };
    const unknown = { type: 'engage.unheard-of', marker };
    const bodies = [membership(id, 'p-before'), bad, unknown, membership(id, 'p-after')];
    await env.WORK_QUEUE.sendBatch(bodies.map((body) => ({ body, contentType: 'json' as const })));

    await eventually(async () => ((await members(id)).length === 2 ? true : undefined));
    expect(await members(id)).toEqual(['p-after', 'p-before']);
    const recorded = await eventually(async () => {
      const r = await rows<WorkRow>('SELECT * FROM work_failures WHERE body LIKE ? ORDER BY type', `%${marker}%`);
      return r.length === 2 ? r : undefined;
    });
    expect(recorded.map((r) => [r.type, r.queue, r.attempts, r.replayable, r.error])).toEqual([
      ['engage.membership', 'tessera-work', 1, 0, 'membership change has no valid at'],
      ['engage.unheard-of', 'tessera-work', 1, 0, 'unknown work message type "engage.unheard-of"'],
    ]);
  });

  it('a body that cannot be deserialised fails only itself, and each body is read once', async () => {
    const { id } = await audience();
    const t = testBatch<EngageWorkMessage>('tessera-work', [
      { body: membership(id, 'p-1') },
      { unreadable: true },
      { body: membership(id, 'p-2') },
    ]);
    await consumeEngageWork(t.batch, env);
    const result = await t.result();
    expect(result.retryMessages).toEqual([]);
    expect([...result.explicitAcks].sort()).toEqual([...t.ids].sort());
    expect([...t.reads.values()].every((n) => n === 1)).toBe(true);
    expect(await members(id)).toEqual(['p-1', 'p-2']);
    const [row] = await rows<WorkRow>('SELECT * FROM work_failures WHERE message_id = ?', t.ids[1]);
    expect(row).toMatchObject({ queue: 'tessera-work', type: null, body: null, replayable: 0 });
    expect(row.error).toContain('Maximum call stack size exceeded');
  });
});

describe('work dead-letter consumer', () => {
  it('keeps a membership change that failed every retry, lists it, and a replay lands it', {
    timeout: 30_000,
  }, async () => {
    const { id } = await audience();
    const lost = membership(id, 'p-lost');
    const t = testBatch<EngageWorkMessage>('tessera-work-dlq', [{ body: lost }, { unreadable: true }], 1);
    await consumeWorkDlq(t.batch, env);
    await consumeWorkDlq(t.batch, env); // a redelivery keeps one row per message
    const result = await t.result();
    expect(result.retryMessages).toEqual([]);
    expect([...result.explicitAcks].sort()).toEqual([...t.ids].sort());
    expect(await members(id)).toEqual([]);

    const list = await (await SELF.fetch('http://x/api/work/failures?limit=500', { headers: ADMIN })).json<{
      total: number;
      data: { messageId: string; type: string | null; replayable: boolean; queue: string; body: unknown }[];
    }>();
    const mine = list.data.filter((d) => t.ids.includes(d.messageId));
    expect(mine).toHaveLength(2);
    expect(mine.find((d) => d.messageId === t.ids[0])).toMatchObject({
      type: 'engage.membership',
      replayable: true,
      queue: 'tessera-work-dlq',
      body: lost,
    });
    expect(mine.find((d) => d.messageId === t.ids[1])).toMatchObject({ replayable: false, body: null });

    const replay = await SELF.fetch('http://x/api/work/failures/replay', { method: 'POST', headers: ADMIN });
    expect(((await replay.json()) as { replayed: number }).replayed).toBeGreaterThanOrEqual(1);
    await eventually(async () => ((await members(id)).length === 1 ? true : undefined));
    expect(await members(id)).toEqual(['p-lost']);
    expect(await rows('SELECT 1 FROM work_failures WHERE message_id = ?', t.ids[0])).toHaveLength(0);
    expect(await rows('SELECT 1 FROM work_failures WHERE message_id = ?', t.ids[1])).toHaveLength(1);
    const path = `http://x/api/work/failures/${encodeURIComponent(t.ids[1])}`;
    expect((await SELF.fetch(path, { method: 'DELETE', headers: ADMIN })).status).toBe(204);
    expect((await SELF.fetch(path, { method: 'DELETE', headers: ADMIN })).status).toBe(404);
  });

  it('requires a token with the audience scopes', async () => {
    for (const res of [
      await SELF.fetch('http://x/api/work/failures'),
      await SELF.fetch('http://x/api/work/failures/replay', { method: 'POST' }),
    ]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({
        error: { code: 'unauthorized', message: expect.stringMatching(/token/) },
      });
    }
  });
});

// What counting violations costs in D1 rows (each billed), and how a plan's violations are read:
// through its connected sources' primary-key prefix, never a scan of every source's violations.
import { describe, expect, it } from 'vitest';
import {
  listPlanViolations,
  PLAN_VIOLATIONS_SQL,
  recordViolations,
  type ViolationRecord,
} from '../src/governance/violations';
import type { EnrichedEvent } from '../src/ingest/spec';
import { env, uniq } from './kit/workers';

const event = (name: string): EnrichedEvent =>
  ({
    type: 'track',
    event: name,
    messageId: uniq('m'),
    timestamp: new Date().toISOString(),
    receivedAt: new Date().toISOString(),
    originalTimestamp: new Date().toISOString(),
    properties: {},
    context: {},
  }) as unknown as EnrichedEvent;

const records = (name: string): ViolationRecord[] => [
  {
    event: event(name),
    violations: [{ type: 'Required', field: 'properties.total', description: 'missing', rule: 'TRACK' }],
  },
];

/** D1 rows written by one call, from D1's own meta (each billed). */
async function written(run: (d1: D1Database) => Promise<unknown>): Promise<number> {
  let rows = 0;
  const d1 = {
    prepare: (q: string) => env.DB.prepare(q),
    batch: async (statements: D1PreparedStatement[]) => {
      const results = await env.DB.batch(statements);
      for (const r of results) rows += r.meta.rows_written;
      return results;
    },
  } as unknown as D1Database;
  await run(d1);
  return rows;
}

async function plan(sources: string[]): Promise<string> {
  const id = uniq('tp');
  const now = new Date().toISOString();
  await env.DB.prepare('INSERT INTO tracking_plans (id, name, rules, created_at, updated_at) VALUES (?, ?, ?, ?, ?)')
    .bind(id, id, '[]', now, now)
    .run();
  for (const s of sources)
    await env.DB.prepare('INSERT OR REPLACE INTO tracking_plan_sources (source_id, plan_id) VALUES (?, ?)')
      .bind(s, id)
      .run();
  return id;
}

describe('violations in D1', () => {
  it('a new group writes its row and two index entries; counting it again, the row and last_seen', async () => {
    const source = uniq('src');
    const planId = await plan([source]);
    expect(await written((d1) => recordViolations(d1, source, planId, records('Order Placed')))).toBe(3);
    expect(await written((d1) => recordViolations(d1, source, planId, records('Order Placed')))).toBe(2);
  });

  it("a plan lists its connected sources' violations counted under it, through indexes only", async () => {
    const [a, b, gone] = [uniq('src'), uniq('src'), uniq('src')];
    const planId = await plan([a, b, gone]);
    const other = await plan([uniq('src')]);
    await recordViolations(env.DB, a, planId, records('A'));
    await recordViolations(env.DB, b, planId, records('B'));
    await recordViolations(env.DB, gone, planId, records('Gone'));
    // Another plan's source, and the same source's violations counted under an earlier plan.
    await recordViolations(env.DB, a, other, records('Earlier'));
    // `gone` moves to the other plan: its violations stay on its own list, not on this plan's.
    await env.DB.prepare('UPDATE tracking_plan_sources SET plan_id = ? WHERE source_id = ?').bind(other, gone).run();
    const listed = await listPlanViolations(env.DB, planId);
    expect(listed.map((v) => v.eventName).sort()).toEqual(['A', 'B']);
    expect(listed.every((v) => v.trackingPlanId === planId)).toBe(true);

    const steps = await env.DB.prepare(`EXPLAIN QUERY PLAN ${PLAN_VIOLATIONS_SQL}`)
      .bind(planId)
      .all<{ detail: string }>();
    const details = steps.results.map((r) => r.detail);
    expect(details.some((d) => /SEARCH s USING .*INDEX tracking_plan_sources_plan \(plan_id=\?\)/.test(d))).toBe(true);
    expect(details.some((d) => /SEARCH v USING INDEX \w+ \(source_id=\?/.test(d))).toBe(true);
    expect(details.filter((d) => /^SCAN (v|s)\b/.test(d))).toEqual([]);
  });
});

// Fault tests through the running Worker: events sent to /v1/batch fan out to a flaky receiver
// (500s, 429 with Retry-After, hangs, resets, permanent 400s, a vendor that never recovers) and
// a healthy one. Every accepted event must end up delivered or in the dead-letter record, none
// acknowledged twice, and the healthy destination must keep its latency. Then replay.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, quantile, type Received, type Receiver, startReceiver } from '../kit/receiver';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';

const SECRET = 'whsec_faults_0123456789';
/**
 * One scenario per event, by index: what the flaky receiver answers to its successive attempts.
 * Half the events meet a fault, each fault kind equally often.
 */
const SCENARIOS: { name: string; answers: Answer[]; after: Answer }[] = [
  ...Array.from({ length: 8 }, () => ({ name: 'ok', answers: [], after: { status: 200 } })),
  { name: '500 then ok', answers: [{ status: 500, body: 'boom' }], after: { status: 200 } },
  {
    name: '429 then ok',
    answers: [{ status: 429, headers: { 'retry-after': '1' }, body: 'slow' }],
    after: { status: 200 },
  },
  { name: 'hang then ok', answers: ['hang'], after: { status: 200 } },
  { name: 'reset then ok', answers: ['reset'], after: { status: 200 } },
  { name: '503 twice then ok', answers: [{ status: 503 }, { status: 503 }], after: { status: 200 } },
  { name: 'permanent 400', answers: [], after: { status: 400, body: '{"error":"invalid payload"}' } },
  { name: 'never recovers', answers: [], after: { status: 503, body: 'down for maintenance' } },
];
const OK: Answer = { status: 200, body: 'ok' };
const TIMEOUT_MS = 1500;

const messageIdOf = (r: Received) => (r.json as { messageId?: string } | undefined)?.messageId ?? '';
const scenarioOf = (messageId: string) => SCENARIOS[Number(messageId.split(':')[1]) % SCENARIOS.length];

interface Failure {
  messageId: string;
  status: number | null;
  error: string;
  response: string | null;
  attempts: number;
}

describe('delivery under vendor faults (wrangler dev + local receivers)', () => {
  let t: Tessera;
  let flaky: Receiver;
  let healthy: Receiver;
  let flakyId: string;
  let healthyId: string;
  const sentAt = new Map<string, number>();

  async function send(count: number, phase: string): Promise<string[]> {
    const ids: string[] = [];
    for (let b = 0; b < count / 6; b++) {
      const batch = Array.from({ length: 6 }, (_, i) => {
        const messageId = `${phase}:${b * 6 + i}:${randomUUID()}`;
        ids.push(messageId);
        return {
          type: 'track',
          event: 'Fault Test',
          userId: `user-${(b * 6 + i) % 5}`,
          messageId,
          properties: { phase },
        };
      });
      const res = await fetch(`${t.url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: `Basic ${btoa(`${t.writeKey}:`)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ batch }),
      });
      expect(res.status).toBe(200);
      for (const e of batch) sentAt.set(e.messageId, Date.now());
      await new Promise((r) => setTimeout(r, 300));
    }
    return ids;
  }

  const latencies = (ids: string[]) =>
    ids.map((id) => {
      const r = healthy.requests.find((x) => messageIdOf(x) === id);
      return (r?.at ?? Number.NaN) - (sentAt.get(id) ?? 0);
    });
  const failures = async () =>
    (await t.admin<{ data: Failure[] }>(`/api/destinations/${flakyId}/failures?limit=500`)).data;

  beforeAll(async () => {
    flaky = await startReceiver(() => OK);
    healthy = await startReceiver(() => OK);
    t = await startTessera({
      sourceName: 'faults e2e',
      vars: {
        DELIVERY_BACKOFF_BASE_SECONDS: '0.25',
        DELIVERY_RETRY_WINDOW_SECONDS: '40',
        DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
      },
    });
    const make = async (name: string, url: string) =>
      (
        await t.admin<{ id: string }>('/api/destinations', {
          method: 'POST',
          body: { type: 'webhook', name, sourceIds: [t.sourceId], settings: { url, sharedSecret: SECRET } },
        })
      ).id;
    flakyId = await make('Flaky vendor', `${flaky.url}/hook`);
    healthyId = await make('Healthy vendor', `${healthy.url}/hook`);
  });
  afterAll(async () => {
    await t?.stop();
    await flaky?.stop();
    await healthy?.stop();
  });

  it('delivers or dead-letters every accepted event, never twice, and the healthy destination keeps its latency', async () => {
    // Baseline: both vendors healthy.
    const baseline = await send(24, 'base');
    await eventually(() => baseline.every((id) => healthy.requests.some((r) => messageIdOf(r) === id)), {
      timeout: 30_000,
      message: 'baseline events at the healthy receiver',
    });

    // Faults: the flaky vendor answers each event by its scenario, attempt after attempt.
    const seen = new Map<string, number>();
    flaky.setBehaviour((r) => {
      const id = messageIdOf(r);
      if (!id.startsWith('fault:')) return OK;
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      const s = scenarioOf(id);
      return s.answers[n] ?? s.after;
    });
    const faulted = await send(48, 'fault');

    // Every accepted event: acknowledged by the flaky vendor, or recorded as a failure.
    const recorded = await eventually(
      async () => {
        const f = await failures();
        const acked = new Set(flaky.acked().map(messageIdOf));
        const failed = new Set(f.map((x) => x.messageId));
        return faulted.every((id) => acked.has(id) || failed.has(id)) && f;
      },
      { timeout: 90_000, interval: 500, message: 'every fault-phase event delivered or dead-lettered' },
    );
    await eventually(() => faulted.every((id) => healthy.requests.some((r) => messageIdOf(r) === id)), {
      timeout: 10_000,
      message: 'all fault-phase events at the healthy receiver',
    });

    // None twice once acknowledged, at either receiver.
    for (const rcv of [flaky, healthy]) {
      const counts = new Map<string, number>();
      for (const r of rcv.acked()) counts.set(messageIdOf(r), (counts.get(messageIdOf(r)) ?? 0) + 1);
      expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    }
    // Recoverable scenarios were delivered; the others are in the record with the vendor's answer.
    const failedIds = new Set(recorded.map((f) => f.messageId));
    for (const id of faulted) {
      const s = scenarioOf(id);
      const failed = failedIds.has(id);
      const record = recorded.find((f) => f.messageId === id);
      expect(failed, `${s.name} ${id} ${JSON.stringify(record)}`).toBe(
        s.name === 'permanent 400' || s.name === 'never recovers',
      );
      expect(flaky.acked().some((r) => messageIdOf(r) === id)).toBe(!failed);
    }
    const permanent = recorded.filter((f) => scenarioOf(f.messageId).name === 'permanent 400');
    expect(permanent.length).toBe(3);
    // Dead-lettered at the first real answer (attempts also count turns spent paused by the breaker).
    for (const f of permanent) expect(f).toMatchObject({ status: 400, response: '{"error":"invalid payload"}' });
    const refusals = flaky.requests.filter(
      (r) => messageIdOf(r).startsWith('fault:') && scenarioOf(messageIdOf(r)).name === 'permanent 400',
    );
    expect(refusals.map((r) => r.answer)).toEqual([400, 400, 400]);
    const exhausted = recorded.filter((f) => scenarioOf(f.messageId).name === 'never recovers');
    expect(exhausted.length).toBe(3);
    for (const f of exhausted) {
      expect(f).toMatchObject({ status: 503, response: 'down for maintenance' });
      expect(f.error).toMatch(/gave up after \d+ attempts/);
      expect(f.attempts).toBeGreaterThan(2);
    }
    // The hang and reset scenarios really happened.
    expect(flaky.requests.some((r) => r.answer === 'hang')).toBe(true);
    expect(flaky.requests.some((r) => r.answer === 'reset')).toBe(true);

    // The healthy destination keeps its latency while its neighbour misbehaves: the median does
    // not move, and the tail grows by at most the one hang that reveals a hanging vendor to the
    // fresh lane (after it, the vendor is served from the retry lane only). Without the lanes and
    // the breaker every hang and every slow retry would hold the healthy destination's events.
    const [b50, b95] = [quantile(latencies(baseline), 0.5), quantile(latencies(baseline), 0.95)];
    const [f50, f95] = [quantile(latencies(faulted), 0.5), quantile(latencies(faulted), 0.95)];
    console.log(`healthy destination latency p50/p95: baseline ${b50}/${b95} ms, during faults ${f50}/${f95} ms`);
    expect(f50).toBeLessThanOrEqual(b50 + 500);
    expect(f95).toBeLessThanOrEqual(b95 + TIMEOUT_MS + 500);

    // Health reports what the receivers saw.
    const health = await eventually(
      async () => {
        const h = await t.admin<{ retrying: number; totals: { delivered: number; failed: number; retried: number } }>(
          `/api/destinations/${flakyId}/health`,
        );
        return h.totals.failed >= 6 && h;
      },
      { timeout: 10_000, message: 'health counting the failures' },
    );
    expect(health.totals.delivered).toBe(flaky.acked().length);
    expect(health.totals.failed).toBe(6);
    // Nothing is left in flight: every event that entered retry came out delivered or failed.
    expect(health.retrying).toBe(0);
    expect(health.totals.retried).toBeGreaterThan(10);
    const healthyHealth = await t.admin<{ totals: { delivered: number; failed: number } }>(
      `/api/destinations/${healthyId}/health`,
    );
    expect(healthyHealth.totals).toMatchObject({ delivered: 72, failed: 0 });
  }, 180_000);

  it('replays the failed events once the vendor is fixed', async () => {
    const before = await failures();
    expect(before.length).toBe(6);
    flaky.setBehaviour(() => OK);
    const res = await t.admin<{ replayed: number }>(`/api/destinations/${flakyId}/replay`, {
      method: 'POST',
      body: { all: true },
    });
    expect(res.replayed).toBe(6);
    await eventually(async () => (await failures()).length === 0, {
      timeout: 30_000,
      interval: 500,
      message: 'failures replayed',
    });
    for (const f of before) expect(flaky.acked().filter((r) => messageIdOf(r) === f.messageId)).toHaveLength(1);
  }, 60_000);
});

// A sibling that hangs on every request, with the production request timeout (10 s): the
// healthy destination must not wait for it. Latency is measured from the event's `receivedAt`
// (stamped at the edge) to its arrival at the healthy receiver, on the same clock.
describe('a destination that hangs on every request (wrangler dev + local receivers)', () => {
  let t: Tessera;
  let stuck: Receiver;
  let healthy: Receiver;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    stuck = await startReceiver(() => 'hang');
    healthy = await startReceiver(() => OK);
    t = await startTessera({ sourceName: 'hanging sibling e2e', vars: { DELIVERY_TIMEOUT_MS: '10000' } });
    for (const [name, url] of [
      ['Hanging vendor', `${stuck.url}/hook`],
      ['Healthy vendor', `${healthy.url}/hook`],
    ]) {
      const made = await t.admin<{ id: string }>('/api/destinations', {
        method: 'POST',
        body: { type: 'webhook', name, sourceIds: [t.sourceId], settings: { url } },
      });
      ids.set(name, made.id);
    }
  });
  afterAll(async () => {
    await t?.stop();
    await stuck?.stop();
    await healthy?.stop();
  });

  it('keeps the healthy destination p95 under 1 s', async () => {
    const ids: string[] = [];
    // About 25 s of steady traffic: longer than the timeout and than the breaker's first pauses.
    for (let b = 0; b < 40; b++) {
      const batch = Array.from({ length: 3 }, (_, i) => {
        const messageId = `hang:${b * 3 + i}:${randomUUID()}`;
        ids.push(messageId);
        return { type: 'track', event: 'Hang Test', userId: `user-${(b * 3 + i) % 7}`, messageId };
      });
      const res = await fetch(`${t.url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: `Basic ${btoa(`${t.writeKey}:`)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ batch }),
      });
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 600));
    }
    await eventually(() => ids.every((id) => healthy.requests.some((r) => messageIdOf(r) === id)), {
      timeout: 30_000,
      message: 'every event at the healthy receiver',
    });
    const latency = ids.map((id) => {
      const r = healthy.requests.find((x) => messageIdOf(x) === id);
      const receivedAt = (r?.json as { receivedAt?: string } | undefined)?.receivedAt ?? '';
      return (r?.at ?? Number.NaN) - Date.parse(receivedAt);
    });
    const [p50, p95, max] = [quantile(latency, 0.5), quantile(latency, 0.95), Math.max(...latency)];
    console.log(`healthy destination next to a hanging one: p50 ${p50} ms, p95 ${p95} ms, max ${max} ms`);
    expect(stuck.requests.length).toBeGreaterThan(0);
    expect(p95).toBeLessThan(1000);
  }, 120_000);

  it("POST /:id/test summarises the target's answer, never returning its body verbatim", async () => {
    const id = ids.get('Healthy vendor');
    healthy.setBehaviour(() => ({
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: '<html><body>internal admin panel, token secret-token-123</body></html>',
    }));
    const page = await t.admin<Record<string, unknown>>(`/api/destinations/${id}/test`, { method: 'POST' });
    expect(JSON.stringify(page)).not.toContain('secret-token-123');
    expect(page).toMatchObject({
      ok: true,
      status: 200,
      response: null,
      answer: { headers: { contentType: 'text/html' } },
    });

    healthy.setBehaviour(() => ({ status: 500, body: JSON.stringify({ error: 'x'.repeat(5000) }) }));
    const error = await t.admin<{ ok: boolean; status: number; response: string }>(`/api/destinations/${id}/test`, {
      method: 'POST',
    });
    expect(error).toMatchObject({ ok: false, status: 500 });
    // A JSON error keeps a short excerpt, enough to read what the vendor said.
    expect(error.response.startsWith('{"error":"xxx')).toBe(true);
    expect(error.response.length).toBeLessThanOrEqual(201);
    healthy.setBehaviour(() => OK);
  });
});

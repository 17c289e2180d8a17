// Audience benchmark: qualifying event → audience event at the destination (p50/p95), end to end
// through `wrangler dev` (Tracking API → ingest → Profile object evaluation → outbox → delivery) to a
// webhook destination connected to the audience; and `GET /v1/personalize` latency.
//
//   node scripts/bench-audiences.mjs [--duration 10] [--json]    (or: npm run bench -- --only audiences)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pct, runStandalone, startReceiver, waitUntil } from './bench-common.mjs';
import { ensureSource, startDev } from './local.mjs';

const KEY = 'bench_buyers';

/** A receiver that notes when each user's "entered" identify first arrived. */
async function startAudienceReceiver() {
  const entered = new Map();
  const receiver = await startReceiver((e, at) => {
    if (e.type === 'identify' && e.traits?.[KEY] === true && !entered.has(e.userId)) entered.set(e.userId, at);
  });
  return { ...receiver, entered };
}

/**
 * Section `audiences`. Users are known profiles first (one identify each); then, every 250 ms, one
 * user sends the qualifying track event and the time until the receiver gets the identify with
 * `bench_buyers: true` is measured from the client's send. Then personalize is read for each user.
 */
export async function benchAudiences(ctx) {
  const duration = ctx.options.duration ?? 10;
  const users = Math.max(20, Math.round(duration * 4));
  const persistTo = await mkdtemp(join(os.tmpdir(), 'tessera-bench-audiences-'));
  const receiver = await startAudienceReceiver();
  let dev;
  try {
    dev = await startDev({ persistTo, log: process.env.BENCH_LOG === '1' });
    const source = await ensureSource(dev.url, dev.adminToken, 'Audience benchmark');
    const admin = async (path, body) => {
      const res = await fetch(`${dev.url}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: { authorization: `Bearer ${dev.adminToken}`, 'content-type': 'application/json' },
        body: body && JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    const dest = await admin('/api/destinations', {
      type: 'webhook',
      name: 'Bench receiver',
      sourceIds: [],
      settings: { url: `${receiver.url}/hook` },
    });
    await admin('/api/audiences', {
      key: KEY,
      name: 'Bench buyers',
      public: true,
      destinationIds: [dest.id],
      definition: { event: 'Order Completed', where: 'properties.total > 50' },
    });
    await waitUntil(async () => (await admin(`/api/audiences/${KEY}`)).status === 'ready', 30_000);

    const auth = `Basic ${Buffer.from(`${source.writeKey}:`).toString('base64')}`;
    const send = async (batch) => {
      const res = await fetch(`${dev.url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({ batch }),
      });
      if (res.status !== 200) throw new Error(`/v1/batch answered ${res.status}: ${await res.text()}`);
    };
    const run = Date.now().toString(36);
    const ids = Array.from({ length: users }, (_, i) => `bench-aud-${run}-${i}`);
    await send(ids.map((userId) => ({ type: 'identify', userId, traits: { plan: 'pro' } })));
    const last = `${dev.url}/v1/spaces/default/collections/users/profiles/user_id:${ids.at(-1)}/metadata`;
    await waitUntil(
      async () => (await fetch(last, { headers: { authorization: `Bearer ${dev.adminToken}` } })).ok,
      30_000,
    );

    const sentAt = new Map();
    for (const userId of ids) {
      sentAt.set(userId, performance.now());
      await send([{ type: 'track', userId, event: 'Order Completed', properties: { total: 99 } }]);
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!(await waitUntil(() => ids.every((id) => receiver.entered.has(id)), 60_000)))
      ctx.log('  WARNING: some audience events never arrived');
    const latencies = ids
      .filter((id) => receiver.entered.has(id))
      .map((id) => receiver.entered.get(id) - sentAt.get(id));
    const latency = { events: latencies.length, p50Ms: pct(latencies, 0.5), p95Ms: pct(latencies, 0.95) };
    ctx.log(
      `  qualifying event → audience event at the destination: p50 ${latency.p50Ms.toFixed(0)} ms, ` +
        `p95 ${latency.p95Ms.toFixed(0)} ms (${latency.events} users; includes the ingest queue's batch wait, max_batch_timeout in wrangler.toml)`,
    );

    const times = [];
    for (let round = 0; round < 5; round++) {
      for (const userId of ids) {
        const t0 = performance.now();
        const res = await fetch(`${dev.url}/v1/personalize?userId=${userId}`, { headers: { authorization: auth } });
        const body = await res.json();
        times.push(performance.now() - t0);
        if (body.audiences?.[KEY] !== true) throw new Error(`personalize for ${userId}: ${JSON.stringify(body)}`);
      }
    }
    const personalize = { requests: times.length, p50Ms: pct(times, 0.5), p95Ms: pct(times, 0.95) };
    ctx.log(
      `  GET /v1/personalize: p50 ${personalize.p50Ms.toFixed(1)} ms, p95 ${personalize.p95Ms.toFixed(1)} ms ` +
        `(${personalize.requests} requests, one at a time)`,
    );
    return { latency, personalize };
  } finally {
    await dev?.stop();
    await receiver.stop();
    await rm(persistTo, { recursive: true, force: true });
  }
}

runStandalone(import.meta.url, benchAudiences, { duration: { type: 'string' } }, (v) => ({
  duration: Number(v.duration ?? 10),
}));

// Cost benchmark: billable units per event from Tessera's own usage meter (GET /api/usage), for
// three workloads through `wrangler dev` with one webhook destination, in batches of 20:
// a known user's track; a new user's identify (userId, anonymousId, email); a merge (an identify
// naming the userId of one profile and the anonymousId of another). Each workload's figures are
// the meter's totals after it minus before it, once every event reached the receiver and the
// profiles' alarms (30 s after an apply) have fired, since Cloudflare bills those too.
//
//   node scripts/bench-cost.mjs [--users 100] [--alarm-wait 35] [--rate N] [--json]   (or: npm run bench -- --only cost)
//   --rate N sends at most N requests a second (default: one after another as fast as answered):
//   a batch wait of the ingest consumer (wrangler.toml `max_batch_timeout`) gathers the requests
//   of its window, so the cost per event then depends on the rate the requests arrive at.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createWebhook, runStandalone, startReceiver, waitUntil } from './bench-common.mjs';
import { ensureSource, startDev } from './local.mjs';

const BATCH = 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Tessera, a source and a webhook destination on a local receiver. */
async function startCostTessera() {
  const persistTo = await mkdtemp(join(os.tmpdir(), 'tessera-bench-cost-'));
  const arrivals = new Set();
  const receiver = await startReceiver((e) => arrivals.add(e.messageId));
  let dev;
  try {
    dev = await startDev({ persistTo, log: process.env.BENCH_LOG === '1' });
    const admin = { authorization: `Bearer ${dev.adminToken}`, 'content-type': 'application/json' };
    const source = await ensureSource(dev.url, dev.adminToken, 'Cost benchmark');
    await createWebhook(dev, source.id, receiver.url, 'Cost receiver');
    const stop = async () => {
      await dev.stop();
      await receiver.stop();
      await rm(persistTo, { recursive: true, force: true });
    };
    return { url: dev.url, admin, writeKey: source.writeKey, arrivals, stop };
  } catch (err) {
    await dev?.stop();
    await receiver.stop();
    await rm(persistTo, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Sends events in `/v1/batch` requests of 20, one after another: as fast as the server answers, or
 * at most `rate` requests per second. Resolves their messageIds and the rate they went at, which
 * decides how many requests the ingest consumer's batch wait (wrangler.toml) gathers.
 */
async function send(t, events, rate) {
  const ids = [];
  const started = performance.now();
  let requests = 0;
  for (let i = 0; i < events.length; i += BATCH) {
    if (rate) {
      const due = started + (requests * 1000) / rate;
      if (due > performance.now()) await sleep(due - performance.now());
    }
    const batch = events.slice(i, i + BATCH).map((e) => {
      const messageId = `cost-${randomBytes(8).toString('hex')}`;
      ids.push(messageId);
      return { ...e, messageId };
    });
    const res = await fetch(`${t.url}/v1/batch`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${t.writeKey}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ batch }),
    });
    if (res.status !== 200) throw new Error(`/v1/batch answered ${res.status}: ${await res.text()}`);
    requests++;
  }
  const seconds = (performance.now() - started) / 1000;
  // n requests span n - 1 intervals: the rate they went at (a lone request has none).
  return { ids, requestsPerSecond: requests > 1 ? (requests - 1) / seconds : Number.NaN };
}

/** Sends, waits for every event at the receiver and for the profiles' alarms. */
async function settle(t, events, alarmWaitS, rate) {
  const { ids, requestsPerSecond } = await send(t, events, rate);
  if (!(await waitUntil(() => ids.every((id) => t.arrivals.has(id)), 180_000)))
    throw new Error('events did not reach the receiver within 180 s');
  await sleep(alarmWaitS * 1000);
  return requestsPerSecond;
}

/** The meter's totals now (this isolate flushed first: locally one isolate runs everything). */
async function meter(t) {
  const flushed = await fetch(`${t.url}/api/usage/flush`, { method: 'POST', headers: t.admin });
  if (flushed.status !== 204) throw new Error(`usage flush answered ${flushed.status}`);
  const res = await fetch(`${t.url}/api/usage?groupBy=stage`, { headers: t.admin });
  if (res.status !== 200) throw new Error(`usage answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/**
 * The bench's own calls of the admin API during a workload (its meter flush and report, stage
 * `admin`, e.g. the flush's audit-log row of 5 D1 rows): no workload makes any, so they are left out.
 */
const BENCH_STAGE = 'admin';

/** Per event: the meter's figures after a workload minus before it, the bench's own calls left out. */
function perEvent(before, after) {
  const events = after.events - before.events;
  // A group's change of one unit over the workload, per event (a group absent before had none).
  const delta = (a, b, u) => ((a?.units[u] ?? 0) - (b?.units[u] ?? 0)) / events;
  const own = (report) => report.groups.find((g) => g.key === BENCH_STAGE);
  const [ownBefore, ownAfter] = [own(before), own(after)];
  const unit = (u) => delta(after.total, before.total, u) - delta(ownAfter, ownBefore, u);
  const detail = (u) => {
    const out = {};
    for (const [k, v] of Object.entries(after.total.details[u] ?? {})) {
      const n = (v - (before.total.details[u]?.[k] ?? 0)) / events;
      if (n) out[k] = +n.toFixed(3);
    }
    return out;
  };
  const stages = {};
  for (const g of after.groups) {
    if (g.key === BENCH_STAGE) continue;
    const b = before.groups.find((x) => x.key === g.key);
    const rows = delta(g, b, 'do.rows_written');
    const d1 = delta(g, b, 'd1.rows_written');
    if (rows || d1) stages[g.key] = { doRowsWritten: +rows.toFixed(2), d1RowsWritten: +d1.toFixed(2) };
  }
  return {
    events,
    doRequests: unit('do.requests'),
    doRequestsByClass: detail('do.requests'),
    doRowsWritten: unit('do.rows_written'),
    doRowsRead: unit('do.rows_read'),
    d1RowsWritten: unit('d1.rows_written'),
    d1RowsRead: unit('d1.rows_read'),
    queueOps: unit('queue.ops'),
    queueOpsByQueue: detail('queue.ops'),
    queueMessages: unit('queue.messages'),
    workerInvocations: unit('worker.invocations'),
    dollarsPerMillion:
      ((after.total.dollars - before.total.dollars - ((ownAfter?.dollars ?? 0) - (ownBefore?.dollars ?? 0))) / events) *
      1e6,
    rowsWrittenByStage: stages,
  };
}

const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '–');

function table(log, results) {
  const names = Object.keys(results);
  const row = (label, fn) => log(`  ${label.padEnd(34)}${names.map((n) => fn(results[n]).padStart(22)).join('')}`);
  row('per event', (_, i) => '');
  log(`  ${''.padEnd(34)}${names.map((n) => n.padStart(22)).join('')}`);
  row('Durable Object requests', (r) => f(r.doRequests));
  row('DO SQLite rows written / read', (r) => `${f(r.doRowsWritten)} / ${f(r.doRowsRead, 0)}`);
  row('D1 rows written / read', (r) => `${f(r.d1RowsWritten)} / ${f(r.d1RowsRead, 1)}`);
  row('queue operations (messages)', (r) => `${f(r.queueOps)} (${f(r.queueMessages)})`);
  row('Worker invocations', (r) => f(r.workerInvocations));
  row('$ per million events', (r) => `$${f(r.dollarsPerMillion)}`);
  row('sent at (requests/s)', (r) => f(r.requestsPerSecond, 1));
  row('$ for 100 million events a month', (r) => `$${f(r.dollarsPerMillion * 100, 0)}`);
  for (const n of names) {
    const r = results[n];
    log(`  ${n}: DO requests ${JSON.stringify(r.doRequestsByClass)}; queue ops ${JSON.stringify(r.queueOpsByQueue)}`);
    log(`    rows written by stage ${JSON.stringify(r.rowsWrittenByStage)}`);
  }
}

/** Section `cost`. */
export async function benchCost(ctx) {
  const users = ctx.options.users ?? 100;
  const alarmWait = ctx.options.alarmWait ?? 35;
  // Requests per second at most (unset: one after another as fast as answered).
  const rate = ctx.options.rate || undefined;
  const t = await startCostTessera();
  const run = Date.now().toString(36);
  try {
    const results = {};
    /** Runs one workload from the meter's figures `before`; records its per-event figures, resolves the meter after. */
    const measure = async (name, before, events) => {
      const requestsPerSecond = await settle(t, events, alarmWait, rate);
      const after = await meter(t);
      results[name] = { ...perEvent(before, after), requestsPerSecond };
      return after;
    };
    // Known users: each identified first (not measured), then tracks.
    const known = Array.from({ length: Math.min(users, 20) }, (_, i) => `known-${run}-${i}`);
    await settle(
      t,
      known.map((userId) => ({ type: 'identify', userId, traits: { plan: 'pro' } })),
      alarmWait,
    );
    let measured = await meter(t);
    const tracks = Array.from({ length: users }, (_, i) => ({
      type: 'track',
      userId: known[i % known.length],
      event: 'Product Viewed',
      properties: { sku: `sku-${i}`, price: 19.99 },
    }));
    measured = await measure("known user's track", measured, tracks);

    // The same known users batched as client SDKs (analytics.js, mobile) batch: each /v1/batch
    // holds one person's events. The workload above interleaves 20 people one event each per
    // batch, as a server-side SDK relaying many users may.
    const perUser = BATCH;
    const sdkTracks = known.slice(0, Math.max(1, Math.round(users / perUser))).flatMap((userId) =>
      Array.from({ length: perUser }, (_, j) => ({
        type: 'track',
        userId,
        event: 'Product Viewed',
        properties: { sku: `sku-${j}`, price: 19.99 },
      })),
    );
    measured = await measure("known user's track, SDK batches", measured, sdkTracks);

    // New users: one identify each with userId, anonymousId and email.
    const identifies = Array.from({ length: users }, (_, i) => ({
      type: 'identify',
      userId: `new-${run}-${i}`,
      anonymousId: `anon-new-${run}-${i}`,
      traits: { email: `new-${run}-${i}@example.com`, name: `User ${i}` },
    }));
    await measure("new user's identify", measured, identifies);

    // Merges: an anonymous visitor's profile and a known user's profile (set up, not measured),
    // then an identify naming both, which merges them.
    const setup = [];
    for (let i = 0; i < users; i++) {
      setup.push({ type: 'page', anonymousId: `anon-m-${run}-${i}`, name: 'Home' });
      setup.push({ type: 'identify', userId: `m-${run}-${i}`, traits: { email: `m-${run}-${i}@example.com` } });
    }
    await settle(t, setup, alarmWait);
    measured = await meter(t);
    const merges = Array.from({ length: users }, (_, i) => ({
      type: 'identify',
      userId: `m-${run}-${i}`,
      anonymousId: `anon-m-${run}-${i}`,
      traits: { plan: 'pro' },
    }));
    await measure('merge', measured, merges);

    table(ctx.log, results);
    return results;
  } finally {
    await t.stop();
  }
}

runStandalone(
  import.meta.url,
  benchCost,
  {
    users: { type: 'string', default: '100' },
    'alarm-wait': { type: 'string', default: '35' },
    rate: { type: 'string', default: '0' },
  },
  (v) => ({ users: Number(v.users), alarmWait: Number(v['alarm-wait']), rate: Number(v.rate) }),
);

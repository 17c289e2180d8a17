// Identity benchmark: identity resolution latency per event (p50/p95, measured inside the Worker
// from the start of an event's resolution to its apply on the Profile object) and end-to-end
// ingest → profile events/s, through `wrangler dev` (Tracking API → ingest queue → IdentityIndex
// → Profile). The workload is a realistic mix: anonymous browsing, then an identify that merges
// the anonymous profile into the user's, then known-user activity.
//
//   node scripts/bench-identity.mjs [--users 600] [--json]    (or: npm run bench -- --only identity)
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { runStandalone } from './bench-common.mjs';
import { ensureSource, startDev } from './local.mjs';

const BATCH = 100;

/**
 * The events of one user: browsing anonymously while a server-side call already knows the user
 * (two profiles), then an identify that links them (a merge), then activity as the user.
 */
function userEvents(tag, i) {
  const anonymousId = `anon-${tag}-${i}`;
  const userId = `user-${tag}-${i}`;
  const id = () => `bi-${randomBytes(8).toString('hex')}`;
  return [
    [
      { type: 'page', name: 'Home', anonymousId, messageId: id() },
      { type: 'track', event: 'Product Viewed', anonymousId, messageId: id(), properties: { sku: `sku-${i % 50}` } },
      { type: 'track', event: 'Trial Started', userId, messageId: id() },
    ],
    [
      {
        type: 'identify',
        userId,
        anonymousId,
        messageId: id(),
        traits: { email: `${userId}@example.com`, plan: 'pro' },
      },
    ],
    [
      { type: 'track', event: 'Order Completed', userId, messageId: id(), properties: { revenue: 10 + (i % 90) } },
      { type: 'track', event: 'Product Viewed', userId, messageId: id(), properties: { sku: `sku-${i % 30}` } },
    ],
  ];
}

/** POSTs batches of at most 100 events, `concurrency` at a time. */
async function sendAll(url, writeKey, events, concurrency) {
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  let next = 0;
  const worker = async () => {
    while (next < events.length) {
      const batch = events.slice(next, next + BATCH);
      next += BATCH;
      const res = await fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({ batch }),
      });
      if (res.status !== 200) throw new Error(`batch refused: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Runs the identity workload against a running Tessera; returns the figures. */
export async function runIdentityWorkload({
  url,
  adminToken,
  writeKey,
  users = 600,
  concurrency = 8,
  log = console.log,
}) {
  const admin = { authorization: `Bearer ${adminToken}` };
  const stats = async () => (await fetch(`${url}/api/identity/stats`, { headers: admin })).json();
  await fetch(`${url}/api/identity/stats/reset`, { method: 'POST', headers: admin });
  const tag = randomBytes(3).toString('hex');
  const phases = [[], [], []];
  for (let i = 0; i < users; i++) {
    for (const [p, evs] of userEvents(tag, i).entries()) phases[p].push(...evs);
  }
  const total = phases.reduce((n, p) => n + p.length, 0);
  const started = performance.now();
  let expected = 0;
  for (const [p, events] of phases.entries()) {
    await sendAll(url, writeKey, events, concurrency);
    expected += events.length;
    // Each phase lands before the next one starts, as a visitor browses before signing in.
    for (;;) {
      const s = await stats();
      if (s.events >= expected) break;
      if (performance.now() - started > 600_000) throw new Error(`only ${s.events} of ${expected} events resolved`);
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`  phase ${p + 1}/3: ${events.length} events resolved`);
  }
  const seconds = (performance.now() - started) / 1000;
  const s = await stats();
  // Spot check through the Profile API: the anonymous history is on the identified profile.
  const check = await fetch(
    `${url}/v1/spaces/default/collections/users/profiles/anonymous_id:anon-${tag}-0/events?limit=10`,
    { headers: admin },
  );
  const landed = check.ok ? (await check.json()).data.length : 0;
  if (landed !== 6) throw new Error(`profile of user 0 holds ${landed} events, expected 6`);
  return {
    users,
    events: total,
    merges: s.merges,
    seconds: +seconds.toFixed(2),
    endToEndEventsPerSecond: Math.round(total / seconds),
    resolutionP50Ms: s.p50Ms,
    resolutionP95Ms: s.p95Ms,
    resolutionP99Ms: s.p99Ms,
  };
}

/** Section `identity` of `npm run bench`. */
export async function benchIdentity(ctx) {
  const persistTo = await mkdtemp(join(os.tmpdir(), 'tessera-bench-id-'));
  ctx.log('starting Tessera (wrangler dev, loopback)…');
  const dev = await startDev({ persistTo });
  try {
    const source = await ensureSource(dev.url, dev.adminToken, 'Identity benchmark');
    const figures = await runIdentityWorkload({
      url: dev.url,
      adminToken: dev.adminToken,
      writeKey: source.writeKey,
      users: ctx.options.users ?? 600,
      concurrency: ctx.options.concurrency,
      log: ctx.log,
    });
    ctx.log(
      `  ${figures.events} events (${figures.users} users, ${figures.merges} merges) in ${figures.seconds} s: ` +
        `${figures.endToEndEventsPerSecond} events/s ingest → profile`,
    );
    ctx.log(
      `  identity resolution per event: p50 ${figures.resolutionP50Ms} ms, p95 ${figures.resolutionP95Ms} ms, ` +
        `p99 ${figures.resolutionP99Ms} ms`,
    );
    return figures;
  } finally {
    await dev.stop();
    await rm(persistTo, { recursive: true, force: true });
  }
}

runStandalone(import.meta.url, benchIdentity, { users: { type: 'string' }, concurrency: { type: 'string' } }, (v) => ({
  users: Number(v.users ?? 600),
  concurrency: Number(v.concurrency ?? 8),
}));

// Section `insights` of `npm run bench`: what the rollups cost per event (CPU and D1 rows written,
// in process, over 100k events in sessions, batched as the ingest consumer batches them), and how
// long `POST /api/insights/{trends,funnel,retention}` take over those 100k events' rollups in D1
// under `wrangler dev` (D1 read, merge lookup and compute), next to the compute alone.
//
//   node scripts/bench-insights.mjs [--json]    (or: npm run bench -- --only insights)
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { runStandalone } from './bench-common.mjs';
import { applyMigrations, ROOT, startDev, toolEnv } from './local.mjs';

async function core() {
  const dir = await mkdtemp(join(os.tmpdir(), 'tessera-bench-insights-'));
  const outfile = join(dir, 'core.mjs');
  await build({
    entryPoints: [join(ROOT, 'scripts', 'bench-insights-core.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'error',
  });
  return { mod: await import(pathToFileURL(outfile).href), dir };
}

const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

/** SQL that stores the rows as the consumer's upserts would have left them (migrations/0018). */
function seedSql(rows) {
  const out = [];
  for (let i = 0; i < rows.length; i += 200) {
    const values = rows
      .slice(i, i + 200)
      .map(
        (r) =>
          `(${q(r.event)},${r.hour},${q(r.profileId)},${q(r.sourceId)},${r.count},${q(JSON.stringify(r.variants))})`,
      );
    out.push(
      `INSERT INTO insights_rollup (event, hour, profile_id, source_id, count, variants) VALUES ${values.join(',')};`,
    );
  }
  return out.join('\n');
}

export async function benchInsights(ctx) {
  const { mod, dir } = await core();
  let dev;
  try {
    const inputs = mod.generate(100_000, 5_000);
    const { stored, rows, figures } = mod.rollupFigures(inputs);
    const rowsPerEvent =
      figures.rollupRowsWrittenPerEvent + figures.volumeRowsWrittenPerEvent + figures.dedupeRowsWrittenPerEvent;
    figures.rowsWrittenPerEvent = Math.round(rowsPerEvent * 1000) / 1000;
    figures.usdPerMillionEvents = Math.round(rowsPerEvent * 100) / 100; // D1: $1 per million rows written
    ctx.log(
      `  rollups: ${figures.cpuMicrosPerEvent} µs CPU per event; ${figures.rollupRowsWrittenPerEvent} rollup + ${figures.volumeRowsWrittenPerEvent} volume + ${figures.dedupeRowsWrittenPerEvent} redelivery rows written per event (a row per queue message of 20 events, stored then expired), ${figures.dedupeRowsReadPerEvent} key rows read; a key lookup and ${figures.statementsPerBatch} statements per queue batch of 100`,
    );
    ctx.log(
      `  D1 cost: ${figures.rowsWrittenPerEvent} rows written per event = $${figures.usdPerMillionEvents} per million events at $1 per million rows written`,
    );
    ctx.log(
      `  stored: ${figures.storedRollupRows} rollup rows (${rows.length} dimension variants) for ${figures.events} events`,
    );
    const compute = mod.computeFigures(rows);
    ctx.log(
      `  compute only (in process): trends ${compute.trendsMs} ms, funnel ${compute.funnelMs} ms, retention ${compute.retentionMs} ms`,
    );

    const persistTo = join(dir, 'state');
    applyMigrations(persistTo);
    const file = join(dir, 'seed.sql');
    await writeFile(file, seedSql(stored));
    const seeded = spawnSync(
      `${ROOT}node_modules/.bin/wrangler`,
      ['d1', 'execute', 'tessera', '--local', '--persist-to', persistTo, '--file', file, '--yes'],
      { cwd: ROOT, env: toolEnv(), encoding: 'utf8' },
    );
    if (seeded.status !== 0) throw new Error(`seeding failed: ${seeded.stderr.slice(-2000)}`);
    dev = await startDev({ persistTo, log: process.env.BENCH_LOG === '1' });
    const api = {};
    for (const [kind, body] of Object.entries(mod.QUERIES)) {
      const times = [];
      let answer;
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await fetch(`${dev.url}/api/insights/${kind}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${dev.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        answer = await res.json();
        if (!res.ok) throw new Error(`${kind}: ${res.status} ${JSON.stringify(answer)}`);
        times.push(performance.now() - started);
      }
      api[`${kind}Ms`] = Math.round([...times].sort((a, b) => a - b)[2]);
      if (kind === 'funnel') api.funnelUsers = answer.steps.map((s) => s.users);
    }
    ctx.log(
      `  through the API (wrangler dev, D1 read + compute, median of 5): trends ${api.trendsMs} ms, funnel ${api.funnelMs} ms, retention ${api.retentionMs} ms; funnel users ${api.funnelUsers.join(' → ')}`,
    );
    return { ...figures, compute, api };
  } finally {
    await dev?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

runStandalone(import.meta.url, benchInsights, {}, () => ({}));

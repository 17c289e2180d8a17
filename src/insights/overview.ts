/** What the console's overview shows for the last `hours`, in one D1 batch. */
export async function overview(d1: D1Database, hours: number, now = Date.now()) {
  const fromMinute = Math.floor(now / 60_000) - hours * 60;
  const since = new Date(now - hours * 3_600_000).toISOString();
  // Per minute for short spans, per hour beyond 6 h: about 360 points at most per series.
  const bucket = hours <= 6 ? 1 : 60;
  const [volume, top, delivery, ingestFailed, deliveryFailed, workFailed, rejected] = await d1.batch([
    d1
      .prepare(
        `SELECT (minute / ?2) * ?2 AS minute, source_id, type, SUM(count) AS count FROM insights_volume
         WHERE minute >= ?1 GROUP BY 1, 2, 3 ORDER BY 1`,
      )
      .bind(fromMinute, bucket),
    d1
      .prepare(
        `SELECT event, type, SUM(count) AS count FROM insights_volume WHERE minute >= ?
         GROUP BY event, type ORDER BY count DESC LIMIT 10`,
      )
      .bind(fromMinute),
    d1
      .prepare(
        `SELECT COALESCE(SUM(delivered), 0) AS delivered, COALESCE(SUM(failed), 0) AS failed,
           COALESCE(SUM(retried), 0) AS retried FROM delivery_stats WHERE minute >= ? AND destination_id != '*'`,
      )
      .bind(fromMinute),
    d1.prepare('SELECT COUNT(*) AS n FROM ingest_failures'),
    d1.prepare(
      `SELECT destination_id, COUNT(*) AS n, MAX(failed_at) AS last FROM delivery_failures
         WHERE replayed_at IS NULL GROUP BY destination_id ORDER BY n DESC LIMIT 20`,
    ),
    d1.prepare('SELECT COUNT(*) AS n FROM work_failures'),
    d1.prepare('SELECT COALESCE(SUM(events), 0) AS n FROM rejected_write_keys WHERE last_seen >= ?').bind(since),
  ]);
  const d = (delivery.results[0] ?? {}) as { delivered: number; failed: number; retried: number };
  const settled = d.delivered + d.failed;
  const count = (r: D1Result) => Number((r.results[0] as { n?: number } | undefined)?.n ?? 0);
  return {
    hours,
    bucketMinutes: bucket,
    volume: (volume.results as { minute: number; source_id: string; type: string; count: number }[]).map((r) => ({
      t: new Date(r.minute * 60_000).toISOString(),
      sourceId: r.source_id,
      type: r.type,
      count: r.count,
    })),
    topEvents: top.results as { event: string; type: string; count: number }[],
    delivery: { ...d, successRate: settled ? Math.round((d.delivered / settled) * 10_000) / 10_000 : null },
    attention: {
      ingestFailures: count(ingestFailed),
      workFailures: count(workFailed),
      rejectedEvents: count(rejected),
      deliveryFailures: (deliveryFailed.results as { destination_id: string; n: number; last: string }[]).map((r) => ({
        destinationId: r.destination_id,
        count: r.n,
        lastFailedAt: r.last,
      })),
    },
  };
}

import type { BackfillRow } from '../db/audiences-schema';

/** The `work` queue message that asks for a definition version to be computed over every profile. */
export interface BackfillMessage {
  type: 'engage.backfill';
  definitionId: string;
  version: number;
  /** Definitions revision that includes this version: the consumer loads at least this one. */
  revision: number;
}

/** Progress as the API shows it: `computing` with a percentage until every profile was visited. */
export function backfillProgress(row: Pick<BackfillRow, 'status' | 'total' | 'processed'> | null): {
  status: 'computing' | 'ready' | 'failed';
  percent: number;
} {
  if (!row) return { status: 'ready', percent: 100 };
  if (row.status === 'ready') return { status: 'ready', percent: 100 };
  const percent = row.total ? Math.min(99, Math.floor((row.processed / row.total) * 100)) : 0;
  return { status: row.status, percent };
}

/**
 * Records that the back-fill visited `processed` more profiles (up to `cursor`); `total` is set once
 * counted. It turns `ready` when every profile was visited. For the work-queue consumer. With
 * `from`, it is a compare-and-set on the stored cursor (null: none yet), so a page reported twice
 * counts once; returns whether the row changed.
 */
export async function reportBackfillProgress(
  d1: D1Database,
  p: {
    definitionId: string;
    version: number;
    processed: number;
    total?: number;
    cursor?: string;
    from?: string | null;
  },
): Promise<boolean> {
  const now = new Date().toISOString();
  const guard = p.from === undefined ? '' : 'AND cursor IS ?7';
  const args: unknown[] = [p.definitionId, p.version, p.total ?? null, p.processed, p.cursor ?? null, now];
  if (p.from !== undefined) args.push(p.from);
  const res = await d1
    .prepare(
      `UPDATE engage_backfills SET
         total = COALESCE(?3, total),
         processed = processed + ?4,
         cursor = COALESCE(?5, cursor),
         status = CASE WHEN COALESCE(?3, total) IS NOT NULL AND processed + ?4 >= COALESCE(?3, total)
                       THEN 'ready' ELSE status END,
         finished_at = CASE WHEN COALESCE(?3, total) IS NOT NULL AND processed + ?4 >= COALESCE(?3, total)
                       THEN ?6 ELSE finished_at END
       WHERE definition_id = ?1 AND version = ?2 AND status = 'computing' ${guard}`,
    )
    .bind(...args)
    .run();
  return res.meta.changes > 0;
}

/** Sends the back-fill request to the `work` queue (the consumer is wired with the Profile DO integration). */
export async function requestBackfill(queue: Queue, message: BackfillMessage): Promise<void> {
  await queue.send(message);
}

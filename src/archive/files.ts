import { bloomOf, subjectIds } from './bloom';
import { objectKey, type Partition, partitionOf, partitionPath } from './keys';
import type { ArchivedEvent } from './messages';
import { type ArchiveRow, encodeParquet, toRow } from './schema';
import type { ObjectEntry } from './store';

/** One Parquet object ready to put, with its manifest entry. */
export interface ArchiveFile {
  entry: ObjectEntry;
  body: ArrayBuffer;
}

/** The manifest entry and bytes of a file of `rows` (sorted by received_at, then message id). */
export function fileOf(key: string, sourceId: string, rows: ArchiveRow[]): ArchiveFile {
  rows.sort((a, b) => a.received_at.getTime() - b.received_at.getTime() || (a.message_id < b.message_id ? -1 : 1));
  const body = encodeParquet(rows);
  return {
    body,
    entry: {
      key,
      sourceId,
      rows: rows.length,
      bytes: body.byteLength,
      minReceivedAt: rows[0].received_at.toISOString(),
      maxReceivedAt: rows[rows.length - 1].received_at.toISOString(),
      subjects: bloomOf(rows.flatMap(subjectIds)),
    },
  };
}

/**
 * The files of one batch: one per source and received hour, never one per event. An event twice
 * in the batch (a client retry, a redelivered ingest message) is kept once, by message id and
 * source. Keys derive from the batch's queue message ids, so a redelivered batch names the same files.
 */
export async function filesOf(events: ArchivedEvent[], messageIds: readonly string[]): Promise<ArchiveFile[]> {
  const parts = new Map<string, { p: Partition; rows: Map<string, ArchiveRow> }>();
  for (const e of events) {
    const row = toRow(e.sourceId, e.event, e.profileId);
    const p = partitionOf(e.sourceId, row.received_at);
    const path = partitionPath(p);
    const part = parts.get(path) ?? { p, rows: new Map() };
    parts.set(path, part);
    if (!part.rows.has(row.message_id)) part.rows.set(row.message_id, row);
  }
  const files: ArchiveFile[] = [];
  for (const { p, rows } of parts.values()) {
    const list = [...rows.values()];
    const first = Math.min(...list.map((r) => r.received_at.getTime()));
    files.push(fileOf(await objectKey(p, first, messageIds), p.sourceId, list));
  }
  return files;
}

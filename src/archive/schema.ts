import type { SchemaElement } from 'hyparquet';
import { parquetReadObjects } from 'hyparquet';
import { ByteWriter, parquetWrite } from 'hyparquet-writer';
import type { EnrichedEvent } from '../ingest/spec';

// The writer is hyparquet-writer: pure JS (no WASM module to compile in each isolate), maintained,
// ~35 KB gzipped together with its reader hyparquet, Snappy built in. parquet-wasm is faster per
// row but ships a multi-megabyte WASM binary and needs Arrow JS tables built first.

/** One accepted event as the archive stores it: one Parquet row (README, Archive). */
export interface ArchiveRow {
  message_id: string;
  type: string;
  event: string | null;
  name: string | null;
  user_id: string | null;
  anonymous_id: string | null;
  group_id: string | null;
  previous_id: string | null;
  profile_id: string | null;
  timestamp: Date | null;
  original_timestamp: Date | null;
  sent_at: Date | null;
  received_at: Date;
  source_id: string;
  properties: string | null;
  traits: string | null;
  context: string | null;
  integrations: string | null;
}

type Kind = 'string' | 'timestamp' | 'json';

/** The columns, in file order; `required` ones are never null. */
export const COLUMNS: { name: keyof ArchiveRow; kind: Kind; required?: boolean }[] = [
  { name: 'message_id', kind: 'string', required: true },
  { name: 'type', kind: 'string', required: true },
  { name: 'event', kind: 'string' },
  { name: 'name', kind: 'string' },
  { name: 'user_id', kind: 'string' },
  { name: 'anonymous_id', kind: 'string' },
  { name: 'group_id', kind: 'string' },
  { name: 'previous_id', kind: 'string' },
  { name: 'profile_id', kind: 'string' },
  { name: 'timestamp', kind: 'timestamp' },
  { name: 'original_timestamp', kind: 'timestamp' },
  { name: 'sent_at', kind: 'timestamp' },
  { name: 'received_at', kind: 'timestamp', required: true },
  { name: 'source_id', kind: 'string', required: true },
  { name: 'properties', kind: 'json' },
  { name: 'traits', kind: 'json' },
  { name: 'context', kind: 'json' },
  { name: 'integrations', kind: 'json' },
];

/** Plain UTF-8 strings for JSON too: every engine reads them, and `json_extract` works on them. */
function element(c: (typeof COLUMNS)[number]): SchemaElement {
  const repetition_type = c.required ? 'REQUIRED' : 'OPTIONAL';
  if (c.kind === 'timestamp') {
    return {
      name: c.name,
      type: 'INT64',
      repetition_type,
      converted_type: 'TIMESTAMP_MILLIS',
      logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
    };
  }
  return { name: c.name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type };
}

const SCHEMA: SchemaElement[] = [{ name: 'root', num_children: COLUMNS.length }, ...COLUMNS.map(element)];

const str = (v: unknown): string | null => (typeof v === 'string' ? v : v == null ? null : String(v));
const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
const time = (v: unknown): Date | null => {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : new Date(ms);
};

/** The row of one accepted event. */
export function toRow(sourceId: string, e: EnrichedEvent, profileId?: string): ArchiveRow {
  const f = e as Record<string, unknown>;
  return {
    message_id: e.messageId,
    type: e.type,
    event: str(f.event),
    name: str(f.name),
    user_id: str(e.userId),
    anonymous_id: str(e.anonymousId),
    group_id: str(f.groupId),
    previous_id: str(f.previousId),
    profile_id: profileId ?? null,
    timestamp: time(e.timestamp),
    original_timestamp: time(e.originalTimestamp),
    sent_at: time(f.sentAt),
    received_at: time(e.receivedAt) ?? new Date(0),
    source_id: sourceId,
    properties: json(f.properties),
    traits: json(f.traits),
    context: json(e.context),
    integrations: json(f.integrations),
  };
}

/** The Segment event a row stands for (what a replay sends). */
export function toEvent(row: ArchiveRow): EnrichedEvent {
  const e: Record<string, unknown> = { type: row.type, messageId: row.message_id };
  const put = (key: string, v: unknown) => {
    if (v !== null && v !== undefined) e[key] = v;
  };
  put('event', row.event);
  put('name', row.name);
  put('userId', row.user_id);
  put('anonymousId', row.anonymous_id);
  put('groupId', row.group_id);
  put('previousId', row.previous_id);
  put('timestamp', row.timestamp?.toISOString());
  put('originalTimestamp', row.original_timestamp?.toISOString());
  put('sentAt', row.sent_at?.toISOString());
  put('receivedAt', row.received_at.toISOString());
  for (const key of ['properties', 'traits', 'context', 'integrations'] as const) {
    put(key, row[key] === null ? null : JSON.parse(row[key]));
  }
  e.context ??= {};
  return e as unknown as EnrichedEvent;
}

/** One Parquet file of rows: Snappy pages, one row group up to 100k rows, statistics for pruning. */
export function encodeParquet(rows: ArchiveRow[]): ArrayBuffer {
  const writer = new ByteWriter();
  parquetWrite({
    writer,
    schema: SCHEMA,
    columnData: COLUMNS.map((c) => ({ name: c.name, data: rows.map((r) => r[c.name]) })),
    rowGroupSize: 100_000,
    createdBy: 'tessera archive',
  });
  return writer.getBuffer();
}

/** The rows of a file this archive wrote. */
export async function decodeParquet(file: ArrayBuffer): Promise<ArchiveRow[]> {
  const rows = (await parquetReadObjects({ file, utf8: true })) as Record<string, unknown>[];
  return rows.map((r) => {
    const out = {} as Record<string, unknown>;
    for (const c of COLUMNS) {
      const v = r[c.name] ?? null;
      out[c.name] = c.kind === 'timestamp' && v !== null && !(v instanceof Date) ? new Date(Number(v)) : v;
    }
    return out as unknown as ArchiveRow;
  });
}

// Workers side of the kit: the R2 archive through the admin API, and archive batches.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { consumeArchive } from '../../src/archive/consumer';
import type { ArchivedEvent, ArchiveMessage } from '../../src/archive/messages';
import { type ArchiveRow, decodeParquet } from '../../src/archive/schema';
import { admin, api } from './workers';

/** An archive listing entry as `GET /api/archive` answers it. */
export interface Listed {
  key: string;
  sourceId: string;
  rows: number;
  bytes: number;
  from: string;
  to: string;
}

/** Every object of a source, through the admin API. */
export async function listArchive(sourceId: string, query = ''): Promise<Listed[]> {
  return (await admin<{ data: Listed[] }>(`/api/archive?sourceId=${sourceId}&limit=1000${query}`)).data;
}

/** The rows of every listed object, downloaded through the admin API and read with hyparquet. */
export async function readArchive(sourceId: string): Promise<ArchiveRow[]> {
  const rows: ArchiveRow[] = [];
  for (const o of await listArchive(sourceId)) {
    const res = await api.request(`/api/archive/objects/${o.key}`);
    if (res.status !== 200) throw new Error(`download ${o.key}: ${res.status}`);
    const got = await decodeParquet(await res.arrayBuffer());
    if (got.length !== o.rows) throw new Error(`${o.key} lists ${o.rows} rows and holds ${got.length}`);
    rows.push(...got);
  }
  return rows;
}

/** A real archive batch (fixed message ids, so it can be delivered twice) run through the consumer. */
export async function runArchiveBatch(messages: { id: string; events: ArchivedEvent[] }[]) {
  const batch = createMessageBatch<ArchiveMessage>(
    'tessera-archive',
    messages.map((m) => ({
      id: m.id,
      timestamp: new Date(),
      attempts: 1,
      body: { kind: 'archive', events: m.events },
    })),
  );
  await consumeArchive(batch, env);
  return getQueueResult(batch, createExecutionContext());
}

import { ADMIN, SELF } from './helpers';

/** One source-debugger entry as the admin API lists it. */
export interface Entry {
  status: string;
  error?: { code: string; message: string };
  event: Record<string, unknown> & { context: Record<string, unknown> };
}

/** Polls a source's debugger until `pred` holds (the tap is written after the answer). */
export async function debuggerUntil(sourceId: string, pred: (entries: Entry[]) => boolean): Promise<Entry[]> {
  let entries: Entry[] = [];
  for (let i = 0; i < 100; i++) {
    const res = await SELF.fetch(`http://x/api/sources/${sourceId}/events`, { headers: ADMIN });
    entries = (await res.json<{ data: Entry[] }>()).data;
    if (pred(entries)) return entries;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`debugger never matched; last: ${JSON.stringify(entries.slice(0, 3))}`);
}

/** The entry of the event with this messageId. */
export const find = (entries: Entry[], messageId: string) => entries.find((e) => e.event.messageId === messageId);

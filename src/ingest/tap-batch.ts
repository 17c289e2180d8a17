/**
 * Debugger entries an isolate gathers before one handover per source (`tapLater` in
 * live-tap.ts). Pure, so the rules are tested in Node: at most `cap` entries per source (the tap
 * keeps no more), and a handover is asked for once per gathering.
 */
export class TapBatch<E> {
  private readonly waiting = new Map<string, E[]>();
  /** When the pending handover was asked for; a handover that never ran (its request's context died) is asked for again. */
  private askedAt: number | undefined;

  constructor(private readonly cap: number) {}

  /** Adds entries; true when the caller must schedule a handover (none is pending). */
  add(sourceId: string, entries: E[], now: number, delayMs: number): boolean {
    if (!entries.length) return false;
    const list = this.waiting.get(sourceId) ?? [];
    list.push(...entries);
    if (list.length > this.cap) list.splice(0, list.length - this.cap);
    this.waiting.set(sourceId, list);
    if (this.askedAt !== undefined && now - this.askedAt < delayMs * 20) return false;
    this.askedAt = now;
    return true;
  }

  /** Everything gathered, per source, oldest first; the batch is empty afterwards. */
  take(): [string, E[]][] {
    const out = [...this.waiting];
    this.waiting.clear();
    this.askedAt = undefined;
    return out;
  }
}

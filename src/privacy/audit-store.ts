import { and, asc, desc, eq, gt, gte, lte, type SQL } from 'drizzle-orm';
import { db } from '../db/client';
import { type AuditRow, auditLog } from '../db/schema';
import { ulid } from '../lib/ids';
import { type AuditEntry, chainHash, firstBreak, GENESIS } from './audit';

export type NewAuditEntry = Omit<AuditEntry, 'seq' | 'id' | 'at'>;

/**
 * Appends an entry at the end of the chain. The next `seq` is the primary key, so two writers that
 * read the same tail cannot both succeed: the loser re-reads the tail and tries again.
 */
export async function appendAudit(d1: D1Database, entry: NewAuditEntry): Promise<AuditRow> {
  for (let attempt = 0; ; attempt++) {
    const tail = await db(d1)
      .select({ seq: auditLog.seq, hash: auditLog.hash })
      .from(auditLog)
      .orderBy(desc(auditLog.seq))
      .limit(1)
      .get();
    const full: AuditEntry = { ...entry, seq: (tail?.seq ?? 0) + 1, id: ulid(), at: new Date().toISOString() };
    const prevHash = tail?.hash ?? GENESIS;
    const row: AuditRow = { ...full, prevHash, hash: await chainHash(prevHash, full) };
    try {
      await db(d1).insert(auditLog).values(row);
      return row;
    } catch (err) {
      if (attempt >= 20 || !/UNIQUE|constraint/i.test(String(err))) throw err;
    }
  }
}

export interface AuditQuery {
  from?: string;
  to?: string;
  actor?: string;
  action?: string;
  target?: string;
  /** Entries after this seq (the previous page's `cursor.next`). */
  after?: number;
  limit: number;
}

/** One page of the log, oldest first. */
export async function listAudit(d1: D1Database, q: AuditQuery): Promise<AuditRow[]> {
  const where: SQL[] = [];
  if (q.from) where.push(gte(auditLog.at, q.from));
  if (q.to) where.push(lte(auditLog.at, q.to));
  if (q.actor) where.push(eq(auditLog.actorId, q.actor));
  if (q.action) where.push(eq(auditLog.action, q.action));
  if (q.target) where.push(eq(auditLog.target, q.target));
  if (q.after !== undefined) where.push(gt(auditLog.seq, q.after));
  return db(d1)
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(asc(auditLog.seq))
    .limit(q.limit)
    .all();
}

const VERIFY_PAGE = 500;

/** Recomputes the whole chain, a page at a time. */
export async function verifyAudit(
  d1: D1Database,
): Promise<{ ok: boolean; entries: number; brokenAt?: { seq: number; id: string; reason: string } }> {
  let prevHash = GENESIS;
  let prevSeq = 0;
  let entries = 0;
  for (;;) {
    const rows = await listAudit(d1, { after: prevSeq, limit: VERIFY_PAGE });
    const broken = await firstBreak(rows, prevHash, prevSeq);
    if (broken) return { ok: false, entries: entries + rows.findIndex((r) => r.seq === broken.seq), brokenAt: broken };
    entries += rows.length;
    if (rows.length < VERIFY_PAGE) return { ok: true, entries };
    prevHash = rows[rows.length - 1].hash;
    prevSeq = rows[rows.length - 1].seq;
  }
}

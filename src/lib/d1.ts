/** Statements per `d1.batch()` call: D1 runs a batch as one transaction, and a long one holds the database. */
export const D1_BATCH_STATEMENTS = 100;

/**
 * Runs statements in `d1.batch()` calls of at most `size`, one after the other. Each call is its
 * own transaction: use it where a partial write is harmless (idempotent updates, a retry repeats
 * them), never for changes that must land together.
 */
export async function batchInChunks(
  d1: D1Database,
  statements: readonly D1PreparedStatement[],
  size = D1_BATCH_STATEMENTS,
): Promise<void> {
  for (let i = 0; i < statements.length; i += size) await d1.batch(statements.slice(i, i + size));
}

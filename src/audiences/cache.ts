import type { EngageDefinitionRow } from '../db/audiences-schema';
import {
  type CompiledAudience,
  type CompiledTrait,
  compileDefinitions,
  type DefinitionSet,
  type Stored,
} from './compile';
import { Audience, ComputedTrait } from './definitions';
import { currentRevision, loadDefinitionRows } from './store';

/** How long an isolate trusts its cached revision before asking D1 again. */
export const REVALIDATE_MS = 5_000;

type Collection = Audience['collection'];
interface Entry {
  revision: number;
  rows: EngageDefinitionRow[];
  /** Compiled lazily, one per profile collection (users, accounts). */
  sets: Partial<Record<Collection, DefinitionSet>>;
  checkedAt: number;
}
let entry: Entry | undefined;
let loading: Promise<Entry> | undefined;

/**
 * The compiled definitions of one profile collection, cached per isolate keyed by revision: D1 is
 * asked for the revision at most every REVALIDATE_MS, and rows are reloaded and compiled only when
 * it moved. Pass `minRevision` (e.g. from a back-fill message) to insist on at least that revision.
 */
export async function getDefinitions(
  d1: D1Database,
  opts: { minRevision?: number; now?: number; collection?: Collection } = {},
): Promise<DefinitionSet> {
  const now = opts.now ?? Date.now();
  const current = await currentEntry(d1, now, opts.minRevision ?? 0);
  const collection = opts.collection ?? 'users';
  current.sets[collection] ??= definitionSetFromRows(current.revision, current.rows, collection);
  return current.sets[collection];
}

async function currentEntry(d1: D1Database, now: number, minRevision: number): Promise<Entry> {
  if (entry && now - entry.checkedAt < REVALIDATE_MS && entry.revision >= minRevision) return entry;
  if (entry && entry.revision >= minRevision && (await currentRevision(d1)) === entry.revision) {
    entry.checkedAt = now;
    return entry;
  }
  loading ??= load(d1, now).finally(() => {
    loading = undefined;
  });
  entry = await loading;
  return entry;
}

async function load(d1: D1Database, now: number): Promise<Entry> {
  const { revision, rows } = await loadDefinitionRows(d1);
  return { revision, rows, sets: {}, checkedAt: now };
}

/** Forgets the cached definitions (tests; or after a write in this isolate). */
export function clearDefinitionCache(): void {
  entry = undefined;
}

/**
 * Compiles stored rows. A row that no longer validates (the schema moved on) is skipped with a
 * warning instead of stopping every other definition from being evaluated.
 */
export function definitionSetFromRows(
  revision: number,
  rows: readonly EngageDefinitionRow[],
  collection?: Collection,
): DefinitionSet {
  const { computedTraits, audiences } = storedFromRows(rows);
  const mine = <T extends { definition: { collection: Collection } }>(xs: T[]) =>
    collection ? xs.filter((x) => x.definition.collection === collection) : xs;
  return compileDefinitions({ revision, computedTraits: mine(computedTraits), audiences: mine(audiences) });
}

/** Validated definitions of stored rows, by kind; invalid rows are skipped with a warning. */
export function storedFromRows(rows: readonly EngageDefinitionRow[]) {
  const computedTraits: Stored<ComputedTrait>[] = [];
  const audiences: Stored<Audience>[] = [];
  for (const row of rows) {
    const body = JSON.parse(row.body);
    const parsed = row.kind === 'audience' ? Audience.safeParse(body) : ComputedTrait.safeParse(body);
    if (!parsed.success) {
      console.warn(`skipping invalid stored definition ${row.id} v${row.version}`);
      continue;
    }
    const stored = { id: row.id, version: row.version };
    if (row.kind === 'audience') audiences.push({ ...stored, definition: parsed.data as Audience });
    else computedTraits.push({ ...stored, definition: parsed.data as ComputedTrait });
  }
  return { computedTraits, audiences };
}

export type { CompiledAudience, CompiledTrait, DefinitionSet };

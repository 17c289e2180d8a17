/// <reference types="vite/client" />
import { env } from 'cloudflare:test';
import { is } from 'drizzle-orm';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';

/**
 * The drizzle tables in src/db/ and the D1 schema the migrations build cannot drift apart: every
 * migrated table has a drizzle definition and each column agrees in name, type, NOT NULL and
 * primary key. (Defaults are left out: a drizzle default only fills what an insert omits.)
 */
interface Column {
  name: string;
  type: string;
  notNull: boolean;
  primaryKey: boolean;
}

// Every schema file, not only what schema.ts re-exports: a table defined but not re-exported counts.
const modules = import.meta.glob<Record<string, unknown>>('../src/db/*schema.ts', { eager: true });

const drizzleTables = new Map(
  [...new Set(Object.values(modules).flatMap((m) => Object.values(m as Record<string, unknown>)))]
    .filter((v) => is(v, SQLiteTable))
    .map((t) => getTableConfig(t as SQLiteTable))
    .map((c) => {
      const composite = new Set(c.primaryKeys.flatMap((pk) => pk.columns.map((col) => col.name)));
      const columns: Column[] = c.columns.map((col) => ({
        name: col.name,
        type: col.getSQLType().toUpperCase(),
        primaryKey: col.primary || composite.has(col.name),
        // NOT NULL is compared off the primary key: drizzle marks every key column not null, the
        // migrations state it for some (and SQLite enforces it only where stated).
        notNull: col.notNull && !col.primary && !composite.has(col.name),
      }));
      return [c.name, columns.sort((a, b) => a.name.localeCompare(b.name))] as const;
    }),
);

async function migratedTables(): Promise<Map<string, Column[]>> {
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations'",
  ).all<{ name: string }>();
  const out = new Map<string, Column[]>();
  for (const { name } of results) {
    const info = await env.DB.prepare('SELECT name, type, "notnull", pk FROM pragma_table_info(?)')
      .bind(name)
      .all<{ name: string; type: string; notnull: number; pk: number }>();
    const columns = info.results.map((c) => ({
      name: c.name,
      type: c.type.toUpperCase(),
      notNull: c.notnull === 1 && c.pk === 0,
      primaryKey: c.pk > 0,
    }));
    out.set(
      name,
      columns.sort((a, b) => a.name.localeCompare(b.name)),
    );
  }
  return out;
}

describe('D1 schema', () => {
  it('has a drizzle table for every migrated table and no drizzle table without one', async () => {
    const migrated = await migratedTables();
    expect([...drizzleTables.keys()].sort()).toEqual([...migrated.keys()].sort());
  });

  it('agrees column by column with the migrations (PRAGMA table_info)', async () => {
    const migrated = await migratedTables();
    for (const [name, columns] of migrated) {
      expect({ table: name, columns: drizzleTables.get(name) }).toEqual({ table: name, columns });
    }
  });
});

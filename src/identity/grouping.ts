import type { IngestMessage } from '../ingest/spec';
import { extractIdentifiers, keyOf } from './identifiers';
import { type Rules, usable } from './settings';

/** The keys an event is grouped by; none for an event they cannot be read from (it then fails alone). */
function groupKeys(body: IngestMessage, rules: Rules): string[] {
  try {
    const e = body.event;
    const ids = [...extractIdentifiers(e, 'users'), ...extractIdentifiers(e, 'accounts')];
    const keys = usable(rules, ids).map(keyOf);
    // Grouping may over-approximate (it only costs parallelism): an alias may name either kind.
    if (e.type === 'alias') keys.push(`user_id:${e.previousId}`, `anonymous_id:${e.previousId}`);
    return keys;
  } catch {
    return [];
  }
}

/**
 * Splits a batch into groups of events that share an identifier (transitively). Groups touch
 * disjoint identities, so they resolve in parallel without racing each other; events of one
 * person stay in arrival order.
 */
export function groupByIdentity<T extends { body: IngestMessage }>(messages: readonly T[], rules: Rules): T[][] {
  const parent = messages.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  const firstWithKey = new Map<string, number>();
  messages.forEach((m, i) => {
    for (const key of groupKeys(m.body, rules)) {
      const j = firstWithKey.get(key);
      if (j === undefined) firstWithKey.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, T[]>();
  messages.forEach((m, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), m]);
  });
  return [...groups.values()];
}

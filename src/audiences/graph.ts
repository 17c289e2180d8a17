import { walkCondition } from './conditions';
import type { Audience, DefinitionIssue } from './definitions';

/**
 * Checks an audience against the others it may reference: every `audience` and `computed` key must
 * exist and audience references must not form a cycle. Issues carry the offending node's path.
 */
export function checkReferences(
  audience: Pick<Audience, 'key' | 'definition'>,
  others: ReadonlyMap<string, Pick<Audience, 'key' | 'definition'>>,
  computedKeys: ReadonlySet<string>,
): DefinitionIssue[] {
  const issues: DefinitionIssue[] = [];
  const graph = new Map(others);
  graph.set(audience.key, audience);
  walkCondition(audience.definition, (node, path) => {
    if ('audience' in node && !graph.has(node.audience)) {
      issues.push({ path: [...path, 'audience'], message: `unknown audience "${node.audience}"` });
    } else if ('audience' in node) {
      const cycle = findCycle(node.audience, audience.key, graph);
      if (cycle)
        issues.push({
          path: [...path, 'audience'],
          message: `reference cycle: ${[audience.key, ...cycle].join(' → ')}`,
        });
    } else if ('computed' in node && !computedKeys.has(node.computed)) {
      issues.push({ path: [...path, 'computed'], message: `unknown computed trait "${node.computed}"` });
    }
  });
  return issues;
}

/** Audience keys referenced directly by a definition. */
export function referencedAudiences(definition: Audience['definition']): string[] {
  const keys: string[] = [];
  walkCondition(definition, (node) => {
    if ('audience' in node) keys.push(node.audience);
  });
  return keys;
}

/** Keys of the audiences whose definition names `key` (as an audience or a computed trait). */
export function referrersOf(key: string, audiences: Iterable<Pick<Audience, 'key' | 'definition'>>): string[] {
  const out: string[] = [];
  for (const a of audiences) {
    let uses = false;
    walkCondition(a.definition, (node) => {
      if (('audience' in node && node.audience === key) || ('computed' in node && node.computed === key)) uses = true;
    });
    if (uses && a.key !== key) out.push(a.key);
  }
  return out;
}

// Depth-first search from `start` for a path back to `target`; returns it (ending in target) or null.
function findCycle(
  start: string,
  target: string,
  graph: ReadonlyMap<string, Pick<Audience, 'definition'>>,
): string[] | null {
  const seen = new Set<string>();
  const dfs = (key: string): string[] | null => {
    if (key === target) return [key];
    if (seen.has(key)) return null;
    seen.add(key);
    const def = graph.get(key);
    if (!def) return null;
    for (const next of referencedAudiences(def.definition)) {
      const rest = dfs(next);
      if (rest) return [key, ...rest];
    }
    return null;
  };
  return dfs(start);
}

/** Orders audiences so each comes after every audience it references (input must be acyclic). */
export function topoSortAudiences<T extends Pick<Audience, 'key' | 'definition'>>(audiences: readonly T[]): T[] {
  const byKey = new Map(audiences.map((a) => [a.key, a]));
  const done = new Set<string>();
  const out: T[] = [];
  const visit = (a: T, stack: Set<string>) => {
    if (done.has(a.key) || stack.has(a.key)) return;
    stack.add(a.key);
    for (const k of referencedAudiences(a.definition)) {
      const dep = byKey.get(k);
      if (dep) visit(dep, stack);
    }
    stack.delete(a.key);
    done.add(a.key);
    out.push(a);
  };
  for (const a of audiences) visit(a, new Set());
  return out;
}

/**
 * Keys of the audiences that may be shown publicly: marked `public`, and every computed trait and
 * audience they use, transitively, public too. A public audience over a private definition would
 * reveal that definition by threshold (`lifetime_value > 1000`), so it is not served. A missing
 * reference or a cycle makes an audience unservable rather than throwing.
 */
export function servableAudienceKeys(
  audiences: readonly Pick<Audience, 'key' | 'definition' | 'public'>[],
  publicComputedKeys: ReadonlySet<string>,
): Set<string> {
  const byKey = new Map(audiences.map((a) => [a.key, a]));
  const verdict = new Map<string, boolean>();
  const visit = (key: string, stack: Set<string>): boolean => {
    const known = verdict.get(key);
    if (known !== undefined) return known;
    const a = byKey.get(key);
    if (!a?.public || stack.has(key)) return false;
    stack.add(key);
    let ok = true;
    walkCondition(a.definition, (node) => {
      if (!ok) return;
      if ('computed' in node && !publicComputedKeys.has(node.computed)) ok = false;
      else if ('audience' in node && !visit(node.audience, stack)) ok = false;
    });
    stack.delete(key);
    verdict.set(key, ok);
    return ok;
  };
  return new Set(audiences.filter((a) => visit(a.key, new Set())).map((a) => a.key));
}

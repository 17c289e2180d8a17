#!/usr/bin/env node
// The import rules of src/, checked in CI (`npm run check:imports`, `.ci/run`) and documented in
// AGENTS.md ("Layers"). It reads every import with the TypeScript compiler's parser (already a
// dev dependency; no extra package), type-only imports and re-exports included, and fails on:
//   1. an import cycle between files of src/ (type-only ones too: they are the contracts that
//      end up derived from their implementations);
//   2. a file of src/lib/ importing anything outside src/lib/ (lib is not the product);
//   3. an import from a lower layer into a higher one (LAYERS below).
// Before checking src/ it checks its own rules on a small fixture, so a broken rule cannot pass.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * Layers, lowest first: a file may import its own layer and the ones below. Paths are prefixes
 * of repo-relative paths; the longest prefix decides. A file in no layer fails the check, so a
 * new folder gets placed on purpose.
 */
export const LAYERS = [
  { name: 'lib', paths: ['src/lib/'] },
  { name: 'db', paths: ['src/db/'] },
  {
    // What every area may use: the usage meter, and who is calling (principals, tokens, scopes).
    name: 'platform',
    paths: [
      'src/usage/',
      'src/admin/auth.ts',
      'src/admin/scopes.ts',
      'src/admin/session.ts',
      'src/admin/token-store.ts',
    ],
  },
  {
    // The stages of an event's way and the product areas. They may import each other (rule 1 still
    // holds between their files); each area's own routes live with it.
    name: 'areas',
    paths: [
      'src/ingest/',
      'src/snippet/',
      'src/identity/',
      'src/profiles/',
      'src/audiences/',
      'src/governance/',
      'src/privacy/',
      'src/delivery/',
      'src/destinations/',
      'src/functions/',
      'src/archive/',
      'src/insights/',
    ],
  },
  { name: 'api', paths: ['src/admin/', 'src/console/'] },
  { name: 'app', paths: ['src/app.ts'] },
  { name: 'entry', paths: ['src/index.ts'] },
];

/** The layer of a repo-relative path: the index in `layers` of its longest matching prefix. */
export function layerOf(file, layers = LAYERS) {
  let best = -1;
  let bestLength = -1;
  layers.forEach((layer, i) => {
    for (const p of layer.paths) {
      if ((file === p || file.startsWith(p)) && p.length > bestLength) {
        best = i;
        bestLength = p.length;
      }
    }
  });
  return best;
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan. */
function cyclesOf(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return out;
}

/** One concrete loop through a component, for the message (shortest path from its first file back to it). */
function loopIn(graph, scc) {
  const members = new Set(scc);
  const start = scc[0];
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = prev.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...scc, start];
}

/**
 * The rules over a graph (file → files it imports, repo-relative). Returns the problems as lines.
 */
export function checkGraph(graph, { layers = LAYERS } = {}) {
  const problems = [];
  for (const scc of cyclesOf(graph)) {
    const loop = loopIn(graph, scc).join(' -> ');
    problems.push(`import cycle (${scc.length} files): ${loop}${scc.length > 2 ? ` [all: ${scc.join(', ')}]` : ''}`);
  }
  for (const [file, targets] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
    const from = layerOf(file, layers);
    if (from < 0) {
      problems.push(`${file} is in no layer: add its folder to LAYERS in scripts/check-imports.mjs`);
      continue;
    }
    for (const target of targets) {
      if (file.startsWith('src/lib/') && !target.startsWith('src/lib/')) {
        problems.push(`src/lib/ imports the product: ${file} -> ${target} (lib may import only lib)`);
        continue;
      }
      const to = layerOf(target, layers);
      if (to > from) {
        problems.push(
          `layer ${layers[from].name} imports layer ${layers[to].name}: ${file} -> ${target} (see "Layers" in AGENTS.md)`,
        );
      }
    }
  }
  return { problems };
}

/** Every relative import of a file: static, type-only, re-exports, `import()` and `import('…')` types. */
function specifiersOf(file, text) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const specs = [];
  const visit = (n) => {
    if (
      (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) &&
      n.moduleSpecifier &&
      ts.isStringLiteral(n.moduleSpecifier)
    ) {
      specs.push(n.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      const e = n.moduleReference.expression;
      if (ts.isStringLiteral(e)) specs.push(e.text);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      specs.push(n.argument.literal.text);
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = n.arguments;
      if (arg && ts.isStringLiteralLike(arg)) specs.push(arg.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return specs.filter((s) => s.startsWith('.'));
}

/** The import graph of `dir` (every `.ts` but declaration files), as repo-relative paths. */
export function graphOf(root, dir = 'src') {
  const files = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(p);
    }
  };
  walk(join(root, dir));
  const rel = (p) => relative(root, p).split('\\').join('/');
  const graph = new Map();
  const unresolved = [];
  for (const file of files) {
    const targets = [];
    for (const spec of specifiersOf(file, readFileSync(file, 'utf8'))) {
      const base = resolve(dirname(file), spec);
      const hit = [`${base}.ts`, join(base, 'index.ts'), base].find((c) => existsSync(c) && statSync(c).isFile());
      if (hit) targets.push(rel(hit));
      else if (!existsSync(`${base}.d.ts`)) unresolved.push(`${rel(file)}: cannot resolve '${spec}'`);
    }
    graph.set(rel(file), [...new Set(targets)]);
  }
  return { graph, unresolved };
}

/** The rules checked on a fixture first: each must catch its own violation and nothing else. */
function selfTest() {
  const g = (edges) => new Map(Object.entries(edges));
  const expectProblems = (name, graph, want) => {
    const { problems } = checkGraph(graph);
    const ok = problems.length === want.length && want.every((w, i) => problems[i]?.startsWith(w));
    if (!ok) throw new Error(`check-imports self-test "${name}" failed: got\n  ${problems.join('\n  ') || '(none)'}`);
  };
  expectProblems(
    'clean',
    g({
      'src/index.ts': ['src/app.ts'],
      'src/app.ts': ['src/ingest/x.ts'],
      'src/ingest/x.ts': ['src/lib/y.ts'],
      'src/lib/y.ts': [],
    }),
    [],
  );
  expectProblems('cycle', g({ 'src/ingest/a.ts': ['src/ingest/b.ts'], 'src/ingest/b.ts': ['src/ingest/a.ts'] }), [
    'import cycle (2 files)',
  ]);
  expectProblems('lib imports product', g({ 'src/lib/y.ts': ['src/ingest/x.ts'], 'src/ingest/x.ts': [] }), [
    'src/lib/ imports the product',
  ]);
  expectProblems('upward import', g({ 'src/ingest/x.ts': ['src/admin/sources.ts'], 'src/admin/sources.ts': [] }), [
    'layer areas imports layer api',
  ]);
  expectProblems(
    'platform stays below areas',
    g({ 'src/admin/auth.ts': ['src/ingest/x.ts'], 'src/ingest/x.ts': ['src/admin/auth.ts'] }),
    ['import cycle', 'layer platform imports layer areas'],
  );
  expectProblems('unplaced file', g({ 'src/newarea/x.ts': [] }), ['src/newarea/x.ts is in no layer']);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  selfTest();
  const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
  const { graph, unresolved } = graphOf(root);
  const { problems } = checkGraph(graph);
  problems.push(...unresolved);
  const edges = [...graph.values()].reduce((n, t) => n + t.length, 0);
  if (problems.length) {
    console.error(`check-imports: FAILED, ${problems.length} problem(s) in ${graph.size} files:`);
    for (const p of problems) console.error(`  ✗ ${p}`);
    process.exit(1);
  }
  console.log(`check-imports: OK, ${graph.size} files, ${edges} imports: no cycle, lib imports only lib, layers hold`);
}

import { globSync } from 'node:fs';
import path from 'node:path';
import { defineProject } from 'vitest/config';

/**
 * The `unit` project: `src/**\/*.test.ts`, the pure tests beside the code, in Node. No bindings,
 * no D1 migrations, no Worker graph, so the whole lane runs in seconds (`npm run test:unit` loads
 * this file alone). A test that needs the runtime (anything reaching `cloudflare:*`, a binding or
 * a Durable Object) goes to `test/` instead; in Node it fails to load, so it cannot pass unnoticed.
 */
const LANES = {
  unit: (f: string) => f.startsWith('src/'),
  workers: (f: string) => f.startsWith('test/') && !f.startsWith('test/e2e/'),
  e2e: (f: string) => f.startsWith('test/e2e/'),
};

/** Every test file belongs to exactly one project: one that no project includes would never run. */
export function checkLanes(root: string): void {
  const files = globSync('**/*.{test,spec}.{ts,mts,js,mjs}', {
    cwd: root,
    exclude: (f) => f === 'node_modules' || f.startsWith('.'),
  }).map((f) => f.split(path.sep).join('/'));
  const astray = files.filter(
    (f) => !/\.test\.ts$/.test(f) || Object.values(LANES).filter((inLane) => inLane(f)).length !== 1,
  );
  if (astray.length) {
    throw new Error(`test files in no test project (see vitest.unit.config.ts): ${astray.join(', ')}`);
  }
}

checkLanes(import.meta.dirname);

export default defineProject({
  test: {
    name: 'unit',
    include: ['src/**/*.test.ts'],
    environment: 'node',
    // Pure modules keep no state a test does not reset itself, so files share a module cache
    // instead of each importing the graph again (32 s → 8 s on two cores).
    pool: 'threads',
    isolate: false,
  },
});

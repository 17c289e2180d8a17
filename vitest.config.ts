import { globSync } from 'node:fs';
import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

/**
 * Three projects, told apart by where a test file lives:
 * - `unit`: `src/**\/*.test.ts`, the pure tests beside the code, in Node. No bindings, no D1
 *   migrations, no Worker graph: the whole lane runs in seconds (`npm run test:unit`). A test
 *   that needs the runtime (anything reaching `cloudflare:*`, a binding or a Durable Object)
 *   goes to `test/` instead; in Node it fails to load, it cannot pass unnoticed.
 * - `workers`: `test/**\/*.test.ts` inside workerd with real bindings, every D1 migration applied.
 * - `e2e`: `test/e2e/**` in Node against `wrangler dev` with real Segment clients and a browser.
 */
const LANES = {
  unit: (f: string) => f.startsWith('src/'),
  workers: (f: string) => f.startsWith('test/') && !f.startsWith('test/e2e/'),
  e2e: (f: string) => f.startsWith('test/e2e/'),
};

/** Every test file belongs to exactly one project: one that no project includes would never run. */
function checkLanes(root: string): void {
  const files = globSync('**/*.{test,spec}.{ts,mts,js,mjs}', {
    cwd: root,
    exclude: (f) => f === 'node_modules' || f.startsWith('.'),
  }).map((f) => f.split(path.sep).join('/'));
  const astray = files.filter(
    (f) => !/\.test\.ts$/.test(f) || Object.values(LANES).filter((inLane) => inLane(f)).length !== 1,
  );
  if (astray.length) {
    throw new Error(`test files in no test project (see vitest.config.ts): ${astray.join(', ')}`);
  }
}

export default defineConfig(async () => {
  checkLanes(import.meta.dirname);
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations'));
  return {
    test: {
      projects: [
        {
          test: {
            name: 'unit',
            include: ['src/**/*.test.ts'],
            environment: 'node',
            // Pure modules keep no state a test does not reset itself, so files share a module
            // cache instead of each importing the graph again (32 s → 9 s on two cores).
            pool: 'threads',
            isolate: false,
          },
        },
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: './wrangler.toml' },
              // The real Worker plus test-only classes: every profile is a TestProfile (hooks for
              // race tests, test/kit/test-profile.ts); SCHEMA_PROBE holds storage for upgrade tests.
              main: './test/worker.ts',
              miniflare: {
                bindings: { TEST_MIGRATIONS: migrations, ADMIN_TOKEN: 'test-admin-token', TESSERA_ENV: 'local' },
                durableObjects: {
                  PROFILE: { className: 'TestProfile', useSQLite: true },
                  SCHEMA_PROBE: { className: 'SchemaProbe', useSQLite: true },
                },
              },
            }),
          ],
          test: {
            name: 'workers',
            include: ['test/**/*.test.ts'],
            exclude: ['test/e2e/**'],
            setupFiles: ['./test/apply-migrations.ts'],
          },
        },
        {
          test: {
            name: 'e2e',
            include: ['test/e2e/**/*.test.ts'],
            environment: 'node',
            testTimeout: 60_000,
            hookTimeout: 120_000,
            fileParallelism: false,
          },
        },
      ],
    },
  };
});

import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { checkLanes } from './vitest.unit.config';

/**
 * Three projects, told apart by where a test file lives (`checkLanes`, vitest.unit.config.ts):
 * - `unit`: the pure tests beside the code, in Node (vitest.unit.config.ts; `npm run test:unit`
 *   loads only that file, not the workerd plugin below).
 * - `workers`: `test/**\/*.test.ts` inside workerd with real bindings, every D1 migration applied.
 * - `e2e`: `test/e2e/**` in Node against `wrangler dev` with real Segment clients and a browser.
 */
export default defineConfig(async () => {
  checkLanes(import.meta.dirname);
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations'));
  return {
    test: {
      projects: [
        './vitest.unit.config.ts',
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: './wrangler.toml' },
              // The real Worker plus test-only classes: every profile is a TestProfile (hooks for
              // race tests, test/kit/test-profile.ts); SCHEMA_PROBE holds storage for upgrade tests.
              main: './test/worker.ts',
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  ADMIN_TOKEN: 'test-admin-token',
                  TESSERA_ENV: 'local',
                  // PII is sealed in every runtime test, so each one runs through encryption.
                  PII_KEY: 'test-pii-key-0123456789abcdef',
                },
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

import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

/**
 * Two projects: `workers` runs inside workerd with real bindings (unit tests beside src/ and
 * runtime tests in test/); `e2e` runs in Node against `wrangler dev` with real Segment clients
 * and a real browser.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations'));
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              wrangler: { configPath: './wrangler.toml' },
              miniflare: {
                bindings: {
                  TEST_MIGRATIONS: migrations,
                  ADMIN_TOKEN: 'test-admin-token',
                  TESSERA_ENV: 'local',
                  // PII is sealed in every runtime test, so each one runs through encryption.
                  PII_KEY: 'test-pii-key-0123456789abcdef',
                },
              },
            }),
          ],
          test: {
            name: 'workers',
            include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
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

// Test-only bindings (see vitest.config.ts).
declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import('cloudflare:test').D1Migration[];
    /** Bare SQLite objects for schema upgrade tests (test/kit/schema-probe.ts). */
    SCHEMA_PROBE: DurableObjectNamespace<import('./kit/schema-probe').SchemaProbe>;
  }
}

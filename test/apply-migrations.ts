import { applyD1Migrations, env } from 'cloudflare:test';
import './settle';

// Each test file gets isolated storage; apply the real D1 migrations to it first.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

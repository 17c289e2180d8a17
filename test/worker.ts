// The Worker under test in the workers project (vitest.config.ts `main`): the real one, plus the
// test-only Durable Object classes its test bindings name.
export * from '../src/index';
// Named again: the pool finds entrypoints for `exports` (ctx.exports) by name, not through `export *`.
export { default, FunctionOutbound } from '../src/index';
export { SchemaProbe } from './kit/schema-probe';

import { meteredDurableObject } from '../src/usage/durable';
import { TestProfile as TestProfileObject } from './kit/test-profile';

// Metered like the real export (src/index.ts), so the usage meter counts its rows in tests too.
export const TestProfile = meteredDurableObject(TestProfileObject, 'Profile');
export type TestProfile = TestProfileObject;

// The Worker under test in the workers project (vitest.config.ts `main`): the real one, plus the
// test-only Durable Object classes its test bindings name.
export * from '../src/index';
// Named again: the pool finds entrypoints for `exports` (ctx.exports) by name, not through `export *`.
export { default, FunctionOutbound } from '../src/index';
export { SchemaProbe } from './kit/schema-probe';
export { TestProfile } from './kit/test-profile';

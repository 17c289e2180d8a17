import { DurableObject } from 'cloudflare:workers';

/**
 * A bare SQLite-backed Durable Object that runs no migration of its own: a test builds storage at
 * an older schema version in it, then constructs the real class on that storage to upgrade it.
 */
export class SchemaProbe extends DurableObject {}

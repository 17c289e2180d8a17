import { DurableObject } from 'cloudflare:workers';

/** Identifier → profile id, sharded by hash of `kind:value` (built by the identity issue). */
export class IdentityIndex extends DurableObject<Env> {}

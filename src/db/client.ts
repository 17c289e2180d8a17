import { drizzle } from 'drizzle-orm/d1';
import * as schema from './schema';

// One client per D1 binding object: drizzle derives its relational config from the whole schema
// on every construction (`extractTablesRelationalConfig`), which the pipeline paid once per call
// (1.6% of the thread in `node scripts/profile.mjs --workload load`). The client holds no state
// of a request, and the (metered) binding is the same object across requests of an isolate.
const clients = new WeakMap<D1Database, ReturnType<typeof create>>();
const create = (d1: D1Database) => drizzle(d1, { schema });

/** A drizzle client over the D1 binding, made once per binding object. */
export function db(d1: D1Database) {
  let client = clients.get(d1);
  if (!client) {
    client = create(d1);
    clients.set(d1, client);
  }
  return client;
}
export type Db = ReturnType<typeof db>;

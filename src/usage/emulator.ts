/**
 * Statements the local emulator runs through an object's own storage, which the meter leaves out:
 * wrangler dev (Miniflare's Durable Object wrapper) records the name of an object addressed by
 * name in a table of its own at every object start (3 rows for a new object, 1 for each restart).
 * Cloudflare does not run them, so they are not billed; counting them made a new profile look 3
 * rows dearer under `npm run bench -- --only cost` than in production.
 */
export const emulatorOnly = (query: string): boolean => query.includes('__miniflare_');

// `npm start`: a complete local Tessera in one command. Applies D1 migrations, starts
// `wrangler dev`, makes sure a source exists and prints its write key and a snippet to paste.
import { ensureDevVars } from './dev-vars.mjs';
import { ensureSource, snippetFor, startDev } from './local.mjs';

// The admin token and TESSERA_ENV come from .dev.vars (filled from .dev.vars.example), the file
// a plain `npx wrangler dev` reads too; ADMIN_TOKEN in the environment overrides it.
const { vars } = ensureDevVars();
const adminToken = process.env.ADMIN_TOKEN || vars.ADMIN_TOKEN;
const port = Number(process.env.PORT ?? 8787);
const dev = await startDev({ port, adminToken, log: process.argv.includes('--verbose') });
const source = await ensureSource(dev.url, adminToken);

console.log(`
Tessera is running at ${dev.url}

  Admin token (kept in .dev.vars): ${adminToken}
  Source "${source.name}" write key: ${source.writeKey}
  Console:            ${dev.url}/
  Source debugger:    curl -H 'Authorization: Bearer ${adminToken}' ${dev.url}/api/sources/${source.id}/events

Send an event:
  curl -u '${source.writeKey}:' -H 'content-type: application/json' \\
    -d '{"userId":"user-1","event":"Hello Tessera"}' ${dev.url}/v1/track

Paste this snippet into a page (the standard Segment snippet, host swapped):
${snippetFor(dev.url, source.writeKey)}

Press Ctrl+C to stop.`);

const stop = async () => {
  await dev.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

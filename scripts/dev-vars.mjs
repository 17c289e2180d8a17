// Keeps .dev.vars (git-ignored, read by `wrangler dev`) complete: every key of the committed
// .dev.vars.example that .dev.vars lacks is appended, an empty example value becoming a random
// token. Existing values are never changed. Runs on `npm install` (postinstall) and in `npm start`,
// so plain `npx wrangler dev` gets the same TESSERA_ENV=local and admin token as `npm start`.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** KEY=value lines of a dotenv-style file (comments and blank lines skipped). */
export function parseVars(text) {
  const vars = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    vars[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return vars;
}

/** Fills in .dev.vars under `root`; returns its variables and the keys it added. */
export function ensureDevVars(root = ROOT) {
  const examplePath = join(root, '.dev.vars.example');
  const path = join(root, '.dev.vars');
  if (!existsSync(examplePath)) return { path, vars: {}, added: [] };
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const vars = parseVars(current);
  const added = [];
  let append = current && !current.endsWith('\n') ? '\n' : '';
  for (const [key, value] of Object.entries(parseVars(readFileSync(examplePath, 'utf8')))) {
    if (key in vars) continue;
    vars[key] = value || `adm_${randomBytes(18).toString('hex')}`;
    append += `${key}=${vars[key]}\n`;
    added.push(key);
  }
  if (added.length) appendFileSync(path, append);
  return { path, vars, added };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { added } = ensureDevVars();
  if (added.length) console.log(`dev-vars: added ${added.join(', ')} to .dev.vars`);
}

// `npm run types`: regenerates src/worker-configuration.d.ts from wrangler.toml alone. wrangler
// types also reads .dev.vars (local secrets and TESSERA_ENV=local), which would make the committed
// types depend on one machine's file, so it is moved aside while the types are generated.
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const vars = `${root}.dev.vars`;
const aside = `${root}.dev.vars.types-aside`;
const moved = existsSync(vars);
if (moved) renameSync(vars, aside);
try {
  const r = spawnSync(
    `${root}node_modules/.bin/wrangler`,
    ['types', '--include-runtime=false', 'src/worker-configuration.d.ts'],
    { cwd: root, stdio: 'inherit' },
  );
  process.exitCode = r.status ?? 1;
  // The generated file is committed, so it is kept in the project's format.
  spawnSync(`${root}node_modules/.bin/biome`, ['format', '--write', 'src/worker-configuration.d.ts'], {
    cwd: root,
    stdio: 'inherit',
  });
} finally {
  if (moved) renameSync(aside, vars);
}

// postinstall, run on the Node 22 of the `node` dev dependency. npm skips an optional dependency
// whose `engines` exclude the Node that runs npm, whatever --force says: on Node 18, rolldown's
// native binding (engines ^20.19 || >=22.12) is left out and vitest cannot start, although every
// script runs on Node 22. So when npm itself ran on another Node major, it runs once more on this
// Node (`--no-save --ignore-scripts`): that adds what the lockfile has for Node 22 and is a no-op
// ("up to date") otherwise. package.json and package-lock.json are not written.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The Node version npm ran on, from its user agent (`npm/10.9.9 node/v18.20.8 linux x64 …`). */
function npmNodeVersion(userAgent = process.env.npm_config_user_agent ?? '') {
  return /\bnode\/v?(\d+\.\d+\.\d+)/.exec(userAgent)?.[1];
}

const major = (v) => Number(v.split('.')[0]);
const npmNode = npmNodeVersion();
const npmCli = process.env.npm_execpath;
if (npmNode && npmCli && major(npmNode) !== major(process.versions.node) && !process.env.TESSERA_NPM_RERUN) {
  console.log(`native-bindings: npm ran on Node ${npmNode}; completing optional packages for Node ${process.version}`);
  const r = spawnSync(
    process.execPath,
    [npmCli, 'install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund'],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, TESSERA_NPM_RERUN: '1' },
    },
  );
  if (r.status !== 0) {
    console.error('native-bindings: npm on Node 22 failed; vitest may miss its native binding (see above)');
    process.exit(r.status ?? 1);
  }
}

// Copies the official analytics.js standalone build (MIT, @segment/analytics-next) into the
// Worker's static assets, so Tessera serves the snippet's script first-party.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const out = new URL('../assets/analytics-next/bundles/', import.meta.url).pathname;
let umd;
try {
  umd = join(dirname(require.resolve('@segment/analytics-next/package.json')), 'dist', 'umd');
} catch {
  console.warn('vendor-analytics: @segment/analytics-next not installed yet, skipping');
  process.exit(0);
}
if (!existsSync(umd)) process.exit(0);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const file of readdirSync(umd)) {
  if (file.endsWith('.js')) cpSync(join(umd, file), join(out, file));
}
console.log(`vendor-analytics: copied analytics.js bundles to ${out}`);

// Copies uPlot (MIT, ~50 KB) into the console's assets, so charts load from this Worker and no CDN.
// The copies are committed too: the console works without running this. Run after upgrading uplot.
import { cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const dist = join(dirname(require.resolve('uplot/package.json')), 'dist');
const out = new URL('../assets/console/vendor/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) cpSync(join(dist, file), join(out, file));
console.log(`vendor-console: copied uPlot to ${out}`);

// Sums vitest JSON reports into the plain closing line CI reads: "N passed, N failed".
import { existsSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
const wanted = process.argv.slice(2);
const files = wanted.filter((f) => existsSync(f));
for (const file of wanted.filter((f) => !existsSync(f))) console.log(`missing report: ${file} (that run crashed)`);
for (const file of files) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numRuntimeErrors ?? 0);
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A suite that failed to load counts as a failure even if no test inside it ran.
  for (const suite of r.testResults ?? []) {
    // So does one that failed around its tests (a hook such as afterAll) while every test passed.
    const tests = suite.assertionResults ?? [];
    if (suite.status === 'failed' && tests.every((t) => t.status !== 'failed')) failed += 1;
  }
}
if (files.length < wanted.length || files.length === 0) failed += 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

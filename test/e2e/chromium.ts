// Debian's Chromium for the browser e2e tests: where it is, how it is started, and what a run
// without it does (a warning locally; with CI_REQUIRE_BROWSER=1 a failing test, never a skip).
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_BROWSER = existsSync(CHROMIUM);
const REQUIRE_BROWSER = process.env.CI_REQUIRE_BROWSER === '1';

/** Headless, no sandbox (root), and none of the background traffic a closed network refuses. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** Call once at the top of a browser test file. */
export function guardBrowser(what: string): void {
  if (!HAVE_BROWSER && !REQUIRE_BROWSER) {
    console.warn(
      `${what} skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH; ` +
        'CI_REQUIRE_BROWSER=1 turns this skip into a failure)',
    );
  }
  // Registered only when it must fail, so a run with a browser shows no skipped test.
  if (!HAVE_BROWSER && REQUIRE_BROWSER) {
    it('Chromium is available when CI_REQUIRE_BROWSER=1', () => {
      expect.fail(`CI_REQUIRE_BROWSER=1 but no Chromium at ${CHROMIUM}; install Debian's chromium package`);
    });
  }
}

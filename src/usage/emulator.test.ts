import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emulatorOnly } from './emulator';

// The statements Miniflare's wrapper runs in every named object, read from the installed package,
// so an upgrade that renames its table fails here instead of silently inflating the cost bench.
const miniflare = dirname(createRequire(import.meta.url).resolve('miniflare'));
const wrapper = readFileSync(join(miniflare, 'workers/core/do-wrapper.worker.js'), 'utf8');
const wrapperStatements = [...wrapper.matchAll(/"((?:CREATE|INSERT|UPDATE|DELETE)[^"]*)"/g)].map((m) => m[1]);

describe('statements of the local emulator', () => {
  it("are Miniflare's own writes, and none of ours", () => {
    expect(wrapperStatements.length).toBeGreaterThanOrEqual(2);
    for (const s of wrapperStatements) expect(emulatorOnly(s)).toBe(true);
    for (const s of [
      'CREATE TABLE meta (one INTEGER PRIMARY KEY)',
      'INSERT INTO event_log (message_id) VALUES (?)',
      "SELECT name FROM sqlite_schema WHERE type = 'table'",
    ])
      expect(emulatorOnly(s)).toBe(false);
  });
});

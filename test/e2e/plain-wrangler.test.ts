// `npx wrangler dev` without the helper scripts must run Tessera as `npm start` does: .dev.vars,
// filled from the committed .dev.vars.example on `npm install`, gives it TESSERA_ENV=local and
// an admin token. Nothing is passed with --var here.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevVars, parseVars } from '../../scripts/dev-vars.mjs';
import { applyMigrations, freePort, ROOT, toolEnv } from '../../scripts/local.mjs';

describe('.dev.vars from .dev.vars.example', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-devvars-'));
    copyFileSync(join(ROOT, '.dev.vars.example'), join(dir, '.dev.vars.example'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is created with TESSERA_ENV=local, a random admin token and a random PII key, then left alone', () => {
    const first = ensureDevVars(dir);
    expect(first.added.sort()).toEqual(['ADMIN_TOKEN', 'PII_KEY', 'TESSERA_ENV']);
    const written = parseVars(readFileSync(first.path, 'utf8'));
    expect(written.TESSERA_ENV).toBe('local');
    expect(written.ADMIN_TOKEN).toMatch(/^adm_[0-9a-f]{36}$/);
    expect(written.PII_KEY).toMatch(/^adm_[0-9a-f]{36}$/);
    expect(written.PII_KEY).not.toBe(written.ADMIN_TOKEN);
    const again = ensureDevVars(dir);
    expect(again.added).toEqual([]);
    expect(again.vars).toEqual(written);
  });

  it('keeps values already in .dev.vars and only adds the missing keys', () => {
    writeFileSync(join(dir, '.dev.vars'), 'ADMIN_TOKEN=mine\nOTHER="x"'); // no final newline
    const { added, path } = ensureDevVars(dir);
    expect(added).toEqual(['TESSERA_ENV', 'PII_KEY']);
    const { PII_KEY, ...rest } = parseVars(readFileSync(path, 'utf8'));
    expect(rest).toEqual({ ADMIN_TOKEN: 'mine', OTHER: 'x', TESSERA_ENV: 'local' });
    expect(PII_KEY).toMatch(/^adm_[0-9a-f]{36}$/);
  });
});

describe('plain `wrangler dev` (no --var)', () => {
  let persistTo: string;
  let url: string;
  let token: string;
  let output = '';
  let child: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    // What `npm install` did (postinstall); a no-op when .dev.vars is complete.
    const { vars, path } = ensureDevVars(ROOT);
    expect(vars.TESSERA_ENV, `${path} sets TESSERA_ENV to something else`).toBe('local');
    token = vars.ADMIN_TOKEN;
    persistTo = mkdtempSync(join(tmpdir(), 'tessera-plain-'));
    applyMigrations(persistTo); // `npx wrangler d1 migrations apply tessera --local`
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(
      `${ROOT}node_modules/.bin/wrangler`,
      ['dev', '--port', String(port), '--ip', '127.0.0.1', '--persist-to', persistTo],
      { cwd: ROOT, env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer) => {
      output = (output + d).slice(-50_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output}`);
      const ok = await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`wrangler dev did not answer within 90 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(persistTo, { recursive: true, force: true });
  });

  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });

  it('reads .dev.vars: wrangler says so', () => {
    expect(output).toContain('Using secrets defined in .dev.vars');
  });

  it('accepts the admin token from .dev.vars', async () => {
    expect((await admin('/api/sources')).status).toBe(200);
    expect((await fetch(`${url}/api/sources`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  });

  it('runs with TESSERA_ENV=local: a loopback webhook destination is allowed', async () => {
    const res = await admin('/api/destinations', {
      method: 'POST',
      body: JSON.stringify({ type: 'webhook', name: 'local hook', settings: { url: 'http://127.0.0.1:9/hook' } }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
  });

  // The workers project bundles with Vite; this checks wrangler's own bundle of hono-openapi too.
  it('serves the OpenAPI document without a token', async () => {
    const res = await fetch(`${url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/api/sources/{id}/rotate-key');
  });
});

// Types for scripts/local.mjs, so TypeScript tests and tools can import the launcher.
import type { ChildProcess } from 'node:child_process';

export declare const ROOT: string;

/** process.env with `node_modules/.bin` first on PATH (the project's Node 22), for spawned tools. */
export declare function toolEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;

/** A free TCP port on loopback. */
export declare function freePort(): Promise<number>;

/** Applies D1 migrations to the local database kept in `persistTo`. */
export declare function applyMigrations(persistTo?: string): void;

export interface StartDevOptions {
  port?: number;
  /** Folder for local state (D1, Durable Objects, queues); tests pass a temporary one. */
  persistTo?: string;
  adminToken?: string;
  /** Extra `--var NAME:value` pairs. */
  vars?: Record<string, string>;
  /** Echo wrangler's output to stdout. */
  log?: boolean;
  /** More `wrangler dev` arguments, e.g. `['--inspector-port', '9229']` to take a CPU profile. */
  extraArgs?: string[];
}

export interface DevServer {
  url: string;
  port: number;
  adminToken: string;
  child: ChildProcess;
  stop(): Promise<void>;
  /** The last ~100 KB wrangler printed. */
  output(): string;
}

/** Starts `wrangler dev` and waits until it answers `/health`. */
export declare function startDev(options?: StartDevOptions): Promise<DevServer>;

export interface SourceView {
  id: string;
  name: string;
  writeKey: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Returns the first source (creating one named `name` if there is none). */
export declare function ensureSource(url: string, adminToken: string, name?: string): Promise<SourceView>;

/** The standard Segment snippet with its host swapped to Tessera. */
export declare function snippetFor(url: string, writeKey: string): string;

/**
 * SSRF guard for URLs people type into destination settings. On Cloudflare the runtime itself
 * refuses private targets; self-hosted workerd does not, so the guard checks, in production mode:
 * the scheme; IP literals (every IPv4 spelling the URL parser accepts, IPv6 with the IPv4 inside
 * its transition forms, see `ip.ts`); names that only mean something inside a network; names of
 * public wildcard-DNS services that answer with the address written in the name (`nip.io`,
 * `sslip.io`, `localtest.me`…, refused statically, as are names that embed a private IPv4); and,
 * where DNS over HTTPS answers (`resolve.ts`), what the name resolves to. Loopback is allowed
 * only locally (`TESSERA_ENV=local`), so `wrangler dev` can deliver to a receiver on 127.0.0.1.
 */
import { ipProblem, v4Problem, v4ToInt } from './ip';

const BLOCKED_NAMES = /(^|\.)(local|localdomain|internal|intranet|lan|home\.arpa|corp|test|invalid|onion|alt)$/;
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'instance-data', 'metadata.azure.com']);

/**
 * Public DNS services whose names resolve to an address chosen by whoever writes the name
 * (loopback for most of them) or that exist to rebind: never a vendor's endpoint.
 */
export const REBINDING_SUFFIXES = [
  'nip.io',
  'sslip.io',
  'xip.io',
  'xip.name',
  'traefik.me',
  'localtest.me',
  'lvh.me',
  'vcap.me',
  'fuf.me',
  'yoogle.com',
  'lacolhost.com',
  'localhost.direct',
  'localho.st',
  'smackaho.st',
  'readme.localtest.me',
  '1u.ms',
  'rbndr.us',
  'rebind.it',
  'rebind.network',
  'nip.direct',
  'ip6.name',
];

/** A private or loopback IPv4 written into a name: `10.0.0.1.x.com`, `app-127-0-0-1.x.com`, `7f000001.x`. */
function embeddedAddressProblem(host: string, allowLoopback: boolean): string | undefined {
  const labels = host.split('.');
  const candidates: string[] = [];
  for (let i = 0; i + 4 <= labels.length - 1; i++) candidates.push(labels.slice(i, i + 4).join('.'));
  for (const label of labels) {
    const dashed = /(?:^|-)(\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3})(?:-|$)/.exec(label);
    if (dashed) candidates.push(dashed[1].replaceAll('-', '.'));
    if (/^[0-9a-f]{8}$/.test(label)) {
      const n = Number.parseInt(label, 16);
      candidates.push([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'));
    }
  }
  for (const c of candidates) {
    const n = v4ToInt(c);
    const problem = n === undefined ? undefined : v4Problem(n, allowLoopback);
    if (problem) return `a name that embeds ${problem}`;
  }
  return undefined;
}

/** Verdicts by URL text: a destination posts every event to the same URL, checked each time. */
const verdicts = new Map<string, string | undefined>();
const MAX_VERDICTS = 1_000;

/** Why a URL may not be used as a destination endpoint, or undefined when it may (before DNS). */
export function urlProblem(raw: string, opts: { allowLoopback: boolean }): string | undefined {
  // A pure function of its arguments (no DNS here), so a verdict can be reused.
  const key = `${opts.allowLoopback ? 1 : 0}${raw}`;
  if (verdicts.has(key)) return verdicts.get(key);
  const verdict = judgeUrl(raw, opts);
  if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
  verdicts.set(key, verdict);
  return verdict;
}

function judgeUrl(raw: string, opts: { allowLoopback: boolean }): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'it is not a valid URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'only http and https URLs are allowed';
  // The URL parser already turned decimal, octal and hex IPv4 spellings into dotted form; a
  // name's trailing dots (`localhost..`) mean the same name.
  const host = url.hostname.toLowerCase().replace(/\.+$/, '');
  if (!host) return 'it has no host';
  if (host.startsWith('[')) {
    const problem = ipProblem(host.slice(1, -1), opts.allowLoopback);
    return problem === null ? 'an unreadable IPv6 address' : problem;
  }
  const ip = ipProblem(host, opts.allowLoopback);
  if (ip !== null) return ip;
  if (host === 'localhost' || host.endsWith('.localhost')) return opts.allowLoopback ? undefined : 'a loopback name';
  if (METADATA_NAMES.has(host)) return 'a cloud metadata service';
  if (!host.includes('.')) return 'a single-label name, which only resolves inside a network';
  if (host.split('.').some((l) => l === '')) return 'a malformed name';
  if (BLOCKED_NAMES.test(host)) return 'a name that only resolves inside a network';
  if (opts.allowLoopback) return undefined;
  const rebinding = REBINDING_SUFFIXES.find((s) => host === s || host.endsWith(`.${s}`));
  if (rebinding) return `a wildcard DNS service (${rebinding}) that resolves to addresses written in the name`;
  return embeddedAddressProblem(host, opts.allowLoopback);
}

/** The host to resolve for a URL: a name (not an IP literal), or undefined. */
export function resolvableHost(raw: string): string | undefined {
  try {
    const host = new URL(raw).hostname.toLowerCase().replace(/\.+$/, '');
    if (host.startsWith('[') || ipProblem(host, true) !== null) return undefined;
    return host;
  } catch {
    return undefined;
  }
}

/** Human sentence for a refused URL. */
export function describeUrlProblem(raw: string, problem: string): string {
  let shown = raw;
  try {
    shown = new URL(raw).origin;
  } catch {}
  return `${shown} is refused: it points to ${problem}. Use a public http(s) endpoint.`;
}

/**
 * DNS over HTTPS for the SSRF guard (production mode only): a destination name must not resolve
 * to an address the guard refuses (a name an attacker points at 127.0.0.1 or 10.0.0.5). Answers
 * are cached per isolate for their TTL (30 s to 5 min) and checked again at delivery time, so a
 * name rebound after it was saved is caught too. When DoH does not answer (no network, an
 * outage), the static checks of `ssrf.ts` stand alone: resolution never blocks delivery.
 */
import { ipProblem } from './ip';
import { resolvableHost } from './ssrf';

export const DOH_URL = 'https://cloudflare-dns.com/dns-query';

/** How long one lookup may take; the fresh lane's budget is short. */
const DOH_TIMEOUT_MS = 300;
const MIN_TTL_MS = 30_000;
const MAX_TTL_MS = 300_000;
/** A failed lookup is not tried again for this long (so an outage costs one wait per name). */
const FAILED_TTL_MS = 60_000;

interface DohJson {
  Status: number;
  Answer?: { type: number; TTL?: number; data: string }[];
}

export interface ResolveOptions {
  fetch?: typeof fetch;
  now?: () => number;
}

const cache = new Map<string, { until: number; addresses: Promise<string[] | null> }>();

async function lookup(host: string, type: 'A' | 'AAAA', doFetch: typeof fetch): Promise<DohJson | null> {
  try {
    const url = `${DOH_URL}?name=${encodeURIComponent(host)}&type=${type}`;
    const res = await doFetch(url, {
      headers: { accept: 'application/dns-json' },
      signal: AbortSignal.timeout(DOH_TIMEOUT_MS),
    });
    if (!res.ok) return null;
    return (await res.json()) as DohJson;
  } catch {
    return null;
  }
}

/** The A and AAAA addresses of a name, or null when DoH gave no usable answer. */
export function resolveName(host: string, opts: ResolveOptions = {}): Promise<string[] | null> {
  const now = (opts.now ?? Date.now)();
  const hit = cache.get(host);
  if (hit && hit.until > now) return hit.addresses;
  const doFetch = opts.fetch ?? ((input, init) => fetch(input, init));
  const entry = { until: now + FAILED_TTL_MS, addresses: Promise.resolve<string[] | null>(null) };
  entry.addresses = Promise.all([lookup(host, 'A', doFetch), lookup(host, 'AAAA', doFetch)]).then((answers) => {
    const usable = answers.filter((a): a is DohJson => a !== null && a.Status === 0);
    if (!usable.length) return null;
    const records = usable.flatMap((a) => a.Answer ?? []).filter((r) => r.type === 1 || r.type === 28);
    const ttl = Math.min(...records.map((r) => (r.TTL ?? 0) * 1000), MAX_TTL_MS);
    entry.until = now + Math.max(MIN_TTL_MS, ttl);
    return records.map((r) => r.data);
  });
  if (cache.size > 10_000) cache.clear();
  cache.set(host, entry);
  return entry.addresses;
}

/** Why a URL's name resolves somewhere refused, or undefined (also when DoH could not tell). */
export async function resolvedProblem(
  raw: string,
  opts: ResolveOptions & { allowLoopback: boolean },
): Promise<string | undefined> {
  if (opts.allowLoopback) return undefined;
  const host = resolvableHost(raw);
  if (!host) return undefined;
  for (const address of (await resolveName(host, opts)) ?? []) {
    const problem = ipProblem(address, false);
    if (problem) return `a name that resolves to ${problem} (${address})`;
  }
  return undefined;
}

/** Forgets cached answers (tests). */
export function resetResolver(): void {
  cache.clear();
}

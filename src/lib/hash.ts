const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a, 32 bit, over UTF-16 code units: a stable, cheap spread of strings (shards, sampling,
 * Bloom positions), never a secret. `seed` is XORed into the offset basis for independent hashes.
 */
export function fnv1a32(s: string, seed = 0): number {
  let h = (FNV_OFFSET ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

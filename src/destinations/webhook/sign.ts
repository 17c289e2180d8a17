/** Hex digest of an HMAC over `message` with `secret` (WebCrypto, works in Workers and Node). */
export async function hmacHex(algorithm: 'SHA-1' | 'SHA-256', secret: string, message: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: algorithm }, false, [
    'sign',
  ]);
  const mac = await crypto.subtle.sign('HMAC', key, enc.encode(message));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The two signature headers of a webhook body. `X-Signature` is Segment's: hex HMAC-SHA1 of the
 * body with the shared secret, so existing Segment receivers keep working. `X-Tessera-Signature`
 * adds a timestamp against replays: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 */
export async function signatureHeaders(secret: string, body: string, now: Date): Promise<Record<string, string>> {
  const t = Math.floor(now.getTime() / 1000);
  return {
    'x-signature': await hmacHex('SHA-1', secret, body),
    'x-tessera-signature': `t=${t},v1=${await hmacHex('SHA-256', secret, `${t}.${body}`)}`,
  };
}

import { ApiError, badRequest, tooLarge } from '../lib/errors';
import { isObject, type JsonObject } from '../lib/json';

/**
 * Reads a request body as JSON, whatever the content type (browsers send `text/plain` to avoid
 * a preflight). Gzip bodies are inflated; the cap applies to the inflated size so a small
 * compressed bomb cannot blow up memory.
 */
export async function readJsonBody(req: Request, maxBytes: number): Promise<JsonObject> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  const encoding = (req.headers.get('content-encoding') ?? '').toLowerCase().trim();
  if (!encoding && declared > maxBytes) throw tooLarge(`Request body exceeds ${maxBytes} bytes`);
  if (!req.body) throw badRequest('Request body is empty');
  let stream: ReadableStream<Uint8Array> = req.body;
  if (encoding === 'gzip') stream = stream.pipeThrough(new DecompressionStream('gzip'));
  else if (encoding && encoding !== 'identity') {
    throw new ApiError(415, 'unsupported_encoding', `Content-Encoding ${encoding} is not supported; use gzip`);
  }
  const bytes = await readCapped(stream, maxBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw badRequest('Request body is not valid UTF-8');
  }
  if (!text.trim()) throw badRequest('Request body is empty');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'invalid_json', 'Request body is not valid JSON');
  }
  if (!isObject(parsed)) throw new ApiError(400, 'invalid_json', 'Request body must be a JSON object');
  return parsed;
}

async function readCapped(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(`Request body exceeds ${maxBytes} bytes (after decompression)`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw badRequest('Request body could not be read (corrupt gzip?)');
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

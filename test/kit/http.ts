// Shared by both sides of the kit (no `cloudflare:*`, no `node:*`): JSON calls to a Tessera, over
// whatever `fetch` reaches it (`SELF.fetch` in workerd, the network for `wrangler dev`).

/** Like `fetch`'s init, but `body` is any JSON value (a string is sent as it is). */
export interface JsonInit extends Omit<RequestInit, 'body'> {
  body?: unknown;
}

/** A status, the parsed JSON body (undefined when empty) and the headers (not enumerable). */
export interface JsonAnswer<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** A non-2xx answer from the admin API, with the parsed error body. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    path: string,
  ) {
    super(`admin ${path} answered ${status}: ${JSON.stringify(body)}`);
  }
}

/** Reads a JSON body; a body that is not JSON fails with its text, never passes as undefined. */
async function readJson(res: Response, path: string): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

/**
 * JSON calls to the Tessera at `base`. `request` and `admin` always carry the admin token;
 * `getJson` and `postJson` carry it unless given headers, which are then sent exactly as given
 * (so a test of another credential, or of none, never borrows the admin token by accident).
 */
export function jsonApi(base: string, fetcher: (req: Request) => Promise<Response>, adminToken: string) {
  const send = (path: string, init: JsonInit, asAdmin: boolean): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (asAdmin) headers.set('authorization', `Bearer ${adminToken}`);
    if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
    const body = init.body === undefined || typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    return fetcher(new Request(new URL(path, base), { ...init, headers, body }));
  };
  const call = async <T>(path: string, init: JsonInit, asAdmin: boolean): Promise<JsonAnswer<T>> => {
    const res = await send(path, init, asAdmin);
    const answer = { status: res.status, body: (await readJson(res, path)) as T };
    // Not enumerable: a test compares `{ status, body }` whole with `toEqual`, and still reads headers.
    return Object.defineProperty(answer, 'headers', { value: res.headers, enumerable: false }) as JsonAnswer<T>;
  };
  return {
    /** The raw `Response` of an admin call (for status and header checks). */
    request: (path: string, init: JsonInit = {}) => send(path, init, true),
    /** GET; returns status, JSON body and headers. */
    getJson: <T = Record<string, unknown>>(path: string, headers?: HeadersInit) =>
      call<T>(path, { headers }, headers === undefined),
    /** POST of a JSON body; returns status, JSON body and headers. */
    postJson: <T = Record<string, unknown>>(path: string, body: unknown, headers?: HeadersInit) =>
      call<T>(path, { method: 'POST', body, headers }, headers === undefined),
    /** An admin call that must succeed: the JSON body of a 2xx answer, else throws `AdminError`. */
    admin: async <T = unknown>(path: string, init: JsonInit = {}): Promise<T> => {
      const answer = await call<T>(path, init, true);
      if (answer.status < 200 || answer.status > 299) throw new AdminError(answer.status, answer.body, path);
      return answer.body;
    },
  };
}

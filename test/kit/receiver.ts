// A real local HTTP server standing in for a vendor: records every request and answers as the
// test scripts it (status, Retry-After, hang, connection reset). Used by the delivery e2e tests.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed JSON body, when it is JSON. */
  json: unknown;
  /** What the receiver did: a status it answered with, 'hang' or 'reset'. */
  answer?: number | 'hang' | 'reset';
  /** True once a 2xx answer was fully written: the receiver acknowledged the request. */
  acked?: boolean;
}

export type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'reset';
export type Behaviour = (req: Received, nth: number) => Answer;

export interface Receiver {
  url: string;
  requests: Received[];
  /** Requests answered 2xx (fully written). */
  acked(): Received[];
  setBehaviour(b: Behaviour): void;
  stop(): Promise<void>;
}

/** Starts a receiver on a free loopback port. */
export async function startReceiver(behaviour: Behaviour = () => ({ status: 200, body: 'ok' })): Promise<Receiver> {
  let current = behaviour;
  const requests: Received[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {}
      const r: Received = {
        at: Date.now(),
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        json,
      };
      requests.push(r);
      const answer = current(r, requests.length);
      if (answer === 'hang') {
        r.answer = 'hang';
        return;
      }
      if (answer === 'reset') {
        r.answer = 'reset';
        req.socket.destroy();
        return;
      }
      r.answer = answer.status;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
      res.end(answer.body ?? '', () => {
        if (answer.status >= 200 && answer.status < 300) r.acked = true;
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    acked: () => requests.filter((r) => r.acked),
    setBehaviour: (b) => {
      current = b;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Verifies both webhook signatures of a received request with the shared secret. */
export function signatureValid(r: Received, secret: string, maxAgeSeconds = 300): boolean {
  const sha1 = createHmac('sha1', secret).update(r.body).digest('hex');
  const given = String(r.headers['x-signature'] ?? '');
  if (given.length !== sha1.length || !timingSafeEqual(Buffer.from(given), Buffer.from(sha1))) return false;
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(r.headers['x-tessera-signature'] ?? ''));
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${r.body}`).digest('hex');
  const fresh = Math.abs(Date.now() / 1000 - Number(m[1])) <= maxAgeSeconds;
  return fresh && timingSafeEqual(Buffer.from(m[2]), Buffer.from(expected));
}

/** The p-quantile of numbers (nearest rank). */
export function quantile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

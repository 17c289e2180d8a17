// The live debugger's push side: browsers hold a WebSocket on the source's LiveTap object, which
// accepts it with the hibernation API, so an idle console costs no Durable Object duration; each
// recorded batch is sent to every open socket as one message.
import type { DebugEntry as TapEntry } from './collect'; // sends any entry as is (a `writeKey` rides along)

/** Set by the live route only: `clear` for a subscriber holding `pii:read`, else `masked`. */
export const PII_VIEW_HEADER = 'x-tessera-pii-view';
const CLEAR = 'pii:clear';
const MASKED = 'pii:masked';

/** Most sockets one source's tap keeps open (a few consoles, not a public feed). */
export const MAX_SUBSCRIBERS = 50;

/** Accepts a WebSocket upgrade on `ctx` (hibernatable); answers 426 to anything else. */
export function acceptSubscriber(ctx: DurableObjectState, request: Request): Response {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    return Response.json(
      { error: { code: 'upgrade_required', message: 'Open this URL as a WebSocket' } },
      { status: 426 },
    );
  }
  const open = ctx.getWebSockets();
  // The oldest socket gives way, so a console left open in many tabs never locks new ones out.
  if (open.length >= MAX_SUBSCRIBERS) open[0]?.close(1013, 'too many subscribers');
  const { 0: client, 1: server } = new WebSocketPair();
  ctx.acceptWebSocket(server, [request.headers.get(PII_VIEW_HEADER) === 'clear' ? CLEAR : MASKED]);
  return new Response(null, { status: 101, webSocket: client });
}

/** True when a subscriber without `pii:read` listens, so the tap must make a masked copy. */
export const hasMaskedSubscribers = (ctx: DurableObjectState): boolean => ctx.getWebSockets(MASKED).length > 0;

/**
 * Sends newly recorded entries (oldest first) to every subscriber: in clear to those holding
 * `pii:read`, `masked` (PII trait values masked) to the others; a dead socket is skipped.
 */
export function broadcast(ctx: DurableObjectState, entries: TapEntry[], masked: TapEntry[] = entries): void {
  if (!entries.length) return;
  send(ctx.getWebSockets(CLEAR), entries);
  send(ctx.getWebSockets(MASKED), masked);
}

function send(sockets: WebSocket[], entries: TapEntry[]): void {
  if (!sockets.length) return;
  const message = JSON.stringify({ entries });
  for (const ws of sockets) {
    try {
      ws.send(message);
    } catch {
      // Closed between listing and sending: the runtime drops it from getWebSockets().
    }
  }
}

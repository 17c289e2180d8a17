// The console's live debugger (a WebSocket on the source's LiveTap object) shows PII in clear only
// to a subscriber holding `pii:read`; others get the entries masked, as the debugger list does.
import { describe, expect, it } from 'vitest';
import { ADMIN, basic, eventually, makeSource, post, SELF } from './kit/workers';

const URL0 = 'http://tessera.test';

async function mintToken(scopes: string[]): Promise<string> {
  const res = await SELF.fetch(`${URL0}/api/tokens`, {
    method: 'POST',
    headers: ADMIN,
    body: JSON.stringify({ name: 'live reader', scopes }),
  });
  return ((await res.json()) as { token: string }).token;
}

type Frame = { entries: { event: { traits?: Record<string, unknown> } }[] };

/** Opens the live debugger with `headers` and collects the frames it receives. */
async function subscribe(sourceId: string, headers: Record<string, string>) {
  const res = await SELF.fetch(`${URL0}/api/sources/${sourceId}/live`, {
    headers: { ...headers, upgrade: 'websocket' },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket;
  if (!ws) throw new Error('no WebSocket in the answer');
  ws.accept();
  const frames: Frame[] = [];
  ws.addEventListener('message', (m) => frames.push(JSON.parse(String(m.data)) as Frame));
  return { ws, frames };
}

const firstFrame = (frames: Frame[]): Promise<Frame> =>
  eventually(() => frames[0], { timeout: 5_000, interval: 20, message: 'a frame arrived' });

describe('live debugger and PII', () => {
  it('sends the email in clear to pii:read and masked to a token without it, whatever header it sends', async () => {
    const source = await makeSource('Live PII');
    const owner = await subscribe(source.id, { authorization: ADMIN.authorization });
    const reader = await mintToken(['sources:read']);
    // A client's own copy of the internal header changes nothing: the route sets it.
    const masked = await subscribe(source.id, { authorization: `Bearer ${reader}`, 'x-tessera-pii-view': 'clear' });

    const email = 'dana.live@example.com';
    const res = await post(
      '/v1/identify',
      { userId: 'live-pii-1', traits: { email, plan: 'pro' } },
      {
        authorization: basic(source.writeKey),
      },
    );
    expect(res.status).toBe(200);

    const clear = await firstFrame(owner.frames);
    expect(clear.entries[0]?.event.traits).toMatchObject({ email, plan: 'pro' });
    const hidden = await firstFrame(masked.frames);
    expect(hidden.entries[0]?.event.traits?.plan).toBe('pro');
    expect(hidden.entries[0]?.event.traits?.email).toBe('d***@example.com');
    expect(JSON.stringify(hidden)).not.toContain(email);
    owner.ws.close();
    masked.ws.close();
  });
});

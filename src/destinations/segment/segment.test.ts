import { describe, expect, it } from 'vitest';
import { bodyOf, CTX, EVENTS, mapWith, snapshotEachCallType } from '../test-events';
import { segment } from './index';

const settings = { endpoint: 'https://api.segment.io', writeKey: 'wk_relay' };

describe('segment relay destination', () => {
  snapshotEachCallType(segment, settings, {
    title: (type) => `forwards ${type} to /v1/batch unchanged`,
    check: (req, event) => {
      const body = bodyOf<{ batch: unknown[]; sentAt: string }>(req);
      expect(body.batch).toEqual([event]);
      expect(body.sentAt).toBe(CTX.now.toISOString());
    },
  });

  it('authenticates like Segment SDKs: Basic base64("<writeKey>:")', async () => {
    const req = await mapWith(segment, settings, [EVENTS.track]);
    expect(req?.url).toBe('https://api.segment.io/v1/batch');
    expect(req?.headers.authorization).toBe(`Basic ${btoa('wk_relay:')}`);
  });

  it('keeps messageId (so the receiver dedupes) and works with any Tracking API host', async () => {
    const req = await mapWith(segment, { endpoint: 'https://tessera.example.com/', writeKey: 'k' }, [
      EVENTS.track,
      EVENTS.identify,
    ]);
    expect(req?.url).toBe('https://tessera.example.com/v1/batch');
    const body = bodyOf<{ batch: { messageId: string }[] }>(req);
    expect(body.batch.map((e) => e.messageId)).toEqual(['msg-track-1', 'msg-identify-1']);
  });
});

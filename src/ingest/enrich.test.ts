import { describe, expect, it } from 'vitest';
import { enrich, pixelFromDevice } from './enrich';
import type { SegmentEvent } from './spec';

const base = { type: 'track', event: 'E', userId: 'u' } as SegmentEvent;
const receivedAt = new Date('2026-06-01T12:00:00.000Z');

describe('enrich', () => {
  it('corrects clock skew: timestamp = receivedAt − (sentAt − originalTimestamp)', () => {
    const e = enrich(
      { ...base, timestamp: '2026-06-01T14:59:50.000Z', sentAt: '2026-06-01T15:00:00.000Z' },
      { receivedAt },
    );
    expect(e.originalTimestamp).toBe('2026-06-01T14:59:50.000Z');
    expect(e.timestamp).toBe('2026-06-01T11:59:50.000Z');
    expect(e.receivedAt).toBe(receivedAt.toISOString());
  });

  it('without sentAt keeps the client timestamp; without either uses receivedAt', () => {
    expect(enrich({ ...base, timestamp: '2025-01-01T00:00:00.000Z' }, { receivedAt }).timestamp).toBe(
      '2025-01-01T00:00:00.000Z',
    );
    const bare = enrich(base, { receivedAt });
    expect(bare.timestamp).toBe(receivedAt.toISOString());
    expect(bare.originalTimestamp).toBe(receivedAt.toISOString());
  });

  it('keeps a client messageId and mints one otherwise', () => {
    expect(enrich({ ...base, messageId: 'abc' }, { receivedAt }).messageId).toBe('abc');
    const a = enrich(base, { receivedAt }).messageId;
    const b = enrich(base, { receivedAt }).messageId;
    expect(a).not.toBe(b);
  });

  it('maps request.cf geo facts to context.location unless the client sent one', () => {
    const cf = {
      city: 'Lisbon',
      country: 'PT',
      region: 'Lisbon',
      latitude: '38.7',
      longitude: '-9.1',
      timezone: 'Europe/Lisbon',
      asn: 1,
    };
    const browser = { ...base, context: { library: { name: 'analytics.js', version: '2.1.0' } } };
    const e = enrich(browser, { receivedAt, cf, ip: '192.0.2.1' });
    expect(e.context.location).toEqual({
      city: 'Lisbon',
      country: 'PT',
      region: 'Lisbon',
      latitude: '38.7',
      longitude: '-9.1',
      timezone: 'Europe/Lisbon',
    });
    expect(e.context.ip).toBe('192.0.2.1');
    const own = enrich({ ...base, context: { ...browser.context, location: { city: 'Paris' } } }, { receivedAt, cf });
    expect(own.context.location).toEqual({ city: 'Paris' });
  });

  it('stamps ip and location only for client libraries, `context.direct` or a device request', () => {
    const cf = { city: 'Frankfurt', country: 'DE' };
    const facts = { receivedAt, cf, ip: '198.51.100.7' };
    const withLibrary = (name: string) => enrich({ ...base, context: { library: { name } } }, facts).context;
    for (const server of ['analytics-node', 'analytics-python', '@rudderstack/rudder-sdk-node', 'curl']) {
      expect(withLibrary(server), server).not.toHaveProperty('ip');
      expect(withLibrary(server), server).not.toHaveProperty('location');
    }
    expect(enrich(base, facts).context).toEqual({});
    for (const client of ['analytics.js', 'analytics-next', 'analytics-ios', 'analytics-android', 'analytics-swift']) {
      expect(withLibrary(client), client).toMatchObject({ ip: '198.51.100.7', location: { city: 'Frankfurt' } });
    }
    expect(withLibrary('@segment/analytics-react-native')).toHaveProperty('ip', '198.51.100.7');
    expect(withLibrary('analytics_flutter')).toHaveProperty('ip', '198.51.100.7');
    expect(enrich({ ...base, context: { direct: true } }, facts).context).toMatchObject({ ip: '198.51.100.7' });
    expect(enrich({ ...base, context: { direct: 'yes' } }, facts).context).not.toHaveProperty('ip');
    expect(enrich(base, { ...facts, fromDevice: true }).context).toMatchObject({ ip: '198.51.100.7' });
    const given = enrich({ ...base, context: { direct: true, ip: '203.0.113.1', location: { city: 'Oslo' } } }, facts);
    expect(given.context).toMatchObject({ ip: '203.0.113.1', location: { city: 'Oslo' } });
  });
});

describe('pixelFromDevice', () => {
  it('a browser or mail client is the device; Gmail and Yahoo image proxies are not', () => {
    expect(pixelFromDevice('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15')).toBe(true);
    expect(pixelFromDevice(undefined)).toBe(true);
    expect(
      pixelFromDevice('Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)'),
    ).toBe(false);
    expect(pixelFromDevice('YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html')).toBe(false);
  });
});

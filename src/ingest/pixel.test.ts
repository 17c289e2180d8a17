import { describe, expect, it } from 'vitest';
import { decodePixelData } from './pixel';

const event = { writeKey: 'wk', event: 'Opened ü', userId: 'u?+/' };
const base64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

describe('decodePixelData', () => {
  it('reads base64 (standard, URL-safe, unpadded, with `+` turned into a space) of UTF-8 JSON', () => {
    const std = base64(JSON.stringify(event));
    expect(std).toMatch(/[+/=]/);
    expect(decodePixelData(std)).toEqual(event);
    expect(decodePixelData(std.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''))).toEqual(event);
    expect(decodePixelData(std.replace(/\+/g, ' '))).toEqual(event);
  });

  it('reads raw JSON and JSON URL-encoded once more', () => {
    expect(decodePixelData(JSON.stringify(event))).toEqual(event);
    expect(decodePixelData(encodeURIComponent(JSON.stringify(event)))).toEqual(event);
  });

  it('gives undefined for anything that is not a JSON object', () => {
    for (const data of ['', '%%%', 'bm90IGpzb24', base64('[1,2]'), base64('null'), '"text"', '{"a":']) {
      expect(decodePixelData(data), data).toBeUndefined();
    }
  });
});

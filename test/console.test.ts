import { describe, expect, it } from 'vitest';
import { SELF } from './kit/workers';

describe('console and health', () => {
  it('serves the console page at /', async () => {
    const res = await SELF.fetch('http://x/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('<title>Tessera console</title>');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await SELF.fetch('http://x/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});

import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { IdentitySettings } from './settings';
import { loadSettings, saveSettings } from './settings-store';
import { resetResolutionStats, resolutionStats } from './stats';

const doc = apiDoc('Identity', {
  settings: { summary: 'Identity resolution settings: priority, limit and blocked values per identifier kind' },
  saveSettings: { summary: 'Replace the identity resolution settings (scope admin)', body: IdentitySettings },
  stats: { summary: "This isolate's identity resolution timings (scope admin)" },
  resetStats: { summary: "Reset this isolate's timings (scope admin)" },
});

/**
 * `/api/identity`: identity resolution settings (priorities, limits, blocked values), and this
 * isolate's resolution timings (`/stats`, used by `npm run bench`).
 */
export const identityApi = new Hono<AdminEnv>()
  .get('/settings', doc.settings, requireScope('profiles:read'), async (c) => c.json(await loadSettings(c.env.DB)))
  .put('/settings', doc.saveSettings, requireScope('workspace:owner'), async (c) => {
    const settings = await parseJson(c.req.raw, IdentitySettings);
    await saveSettings(c.env.DB, settings);
    return c.json(settings);
  })
  .get('/stats', doc.stats, requireScope('workspace:owner'), (c) => c.json(resolutionStats()))
  .post('/stats/reset', doc.resetStats, requireScope('workspace:owner'), (c) => {
    resetResolutionStats();
    return c.json(resolutionStats());
  });

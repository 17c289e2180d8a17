import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { parseJson } from '../admin/validate';
import { IdentitySettings } from './settings';
import { loadSettings, saveSettings } from './settings-store';
import { resetResolutionStats, resolutionStats } from './stats';

/**
 * `/api/identity`: identity resolution settings (priorities, limits, blocked values), and this
 * isolate's resolution timings (`/stats`, used by `npm run bench`).
 */
export const identityApi = new Hono<AdminEnv>()
  .get('/settings', requireScope('profiles:read'), async (c) => c.json(await loadSettings(c.env.DB)))
  .put('/settings', requireScope('workspace:owner'), async (c) => {
    const settings = await parseJson(c.req.raw, IdentitySettings);
    await saveSettings(c.env.DB, settings);
    return c.json(settings);
  })
  .get('/stats', requireScope('workspace:owner'), (c) => c.json(resolutionStats()))
  .post('/stats/reset', requireScope('workspace:owner'), (c) => {
    resetResolutionStats();
    return c.json(resolutionStats());
  });

// Read-only lists of areas whose richer console pages are still to come: tracking plans, tokens
// and the audit log. A later area adds its page module and one row in `NAV` (app.js).
import { api } from '../api.js';
import { add, h, table, when } from '../dom.js';

export async function trackingPlans(root) {
  const { data } = await api('/api/tracking-plans');
  add(root, h('h2', null, 'Tracking plans'), h('section', { class: 'card' }, table(['Name', 'Rules', 'Sources', 'Updated'], data.map((p) => [p.name, p.rules?.length ?? 0, (p.sourceIds ?? []).join(', '), when(p.updatedAt)]))));
}

export async function tokens(root) {
  const { data } = await api('/api/tokens');
  add(root, h('h2', null, 'API tokens'), h('section', { class: 'card' }, table(['Name', 'Prefix', 'Scopes', 'Last used', 'Expires', 'Revoked'], data.map((t) => [t.name, t.prefix, t.scopes.join(', '), when(t.lastUsedAt), when(t.expiresAt), when(t.revokedAt)]))));
}

export async function audit(root) {
  const { data } = await api('/api/audit?limit=100');
  add(root, h('h2', null, 'Audit log'), h('section', { class: 'card', id: 'audit' }, table(['When', 'Who', 'Action', 'Target', 'IP'], data.map((e) => [when(e.at), e.actorName, e.action, e.target, e.ip]))));
}

// Profiles: search by any identifier or trait; a profile's traits, external ids, timeline,
// audiences, merge history and its identity graph drawn.
import { api, can } from '../api.js';
import { add, fill, h, json, table, when } from '../dom.js';
import { identityGraph } from '../graph.js';

export async function render(root, ctx) {
  if (ctx.rest[0]) return detail(root, ctx.rest[0]);
  const q = ctx.query.get('q') ?? '';
  const input = h('input', { id: 'profile-q', value: q, placeholder: 'email, user id, anonymous id, trait value…', size: 50 });
  const form = h('form', { class: 'row', id: 'profile-search' }, input, h('button', { class: 'primary' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    ctx.go(`profiles?q=${encodeURIComponent(input.value)}`);
  });
  const { data } = await api(`/api/profiles?limit=50${q ? `&q=${encodeURIComponent(q)}` : ''}`);
  add(root, 
    h('h2', null, 'Profiles'),
    h('section', { class: 'card' }, form),
    h(
      'section',
      { class: 'card' },
      table(
        ['Profile', 'Identifiers', 'Traits', 'Events', 'Updated'],
        data.map((p) => ({
          cells: [h('a', { href: `#/profiles/${p.id}`, class: 'profile-link' }, p.id), p.identifiers.slice(0, 4).join(', '), Object.keys(p.traits).slice(0, 5).join(', '), p.eventCount, when(p.updatedAt)],
          onclick: () => ctx.go(`profiles/${p.id}`),
        })),
      ),
    ),
  );
}

async function detail(root, id) {
  const none = { data: [] };
  const [p, auds, computed] = await Promise.all([
    api(`/api/profiles/${encodeURIComponent(id)}`),
    can('engage:read') ? api('/api/audiences').catch(() => none) : none,
    can('engage:read') ? api('/api/computed-traits').catch(() => none) : none,
  ]);
  const audienceKeys = new Set(auds.data.map((a) => a.key));
  const computedKeys = new Set(computed.data.map((t) => t.key));
  const inAudiences = Object.entries(p.traits).filter(([k]) => audienceKeys.has(k) || computedKeys.has(k));
  const eventBox = h('div', { class: 'muted' }, 'Select an event.');
  add(root, 
    h('p', null, h('a', { href: '#/profiles' }, '← Profiles')),
    h('h2', null, `Profile ${p.id}`),
    p.requested ? h('p', { class: 'muted' }, `${p.requested} was merged into this profile.`) : null,
    h('section', { class: 'card graph' }, h('h3', null, 'Identity graph'), identityGraph(p)),
    h(
      'div',
      { class: 'cols' },
      h('section', { class: 'card', id: 'traits' }, h('h3', null, 'Traits'), table(['Trait', 'Value'], Object.entries(p.traits).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]))),
      h(
        'section',
        { class: 'card', id: 'external-ids' },
        h('h3', null, 'External ids'),
        table(['Kind', 'Value', 'Source', 'Linked by', 'Since'], p.identifiers.map((i) => [i.kind, i.value, i.sourceId ?? '—', i.firstMessageId ?? '—', when(i.createdAt)])),
      ),
    ),
    h(
      'div',
      { class: 'cols' },
      h('section', { class: 'card', id: 'timeline' }, h('h3', null, 'Event timeline'), table(['When', 'Type', 'Event'], p.recentEvents.map((e) => ({ cells: [when(e.timestamp), e.type, e.event ?? ''], onclick: () => fill(eventBox, json(e)) }))), eventBox),
      h(
        'section',
        { class: 'card' },
        h('h3', null, 'Audiences and computed traits'),
        inAudiences.length ? table(['Audience or computed trait', 'Value'], inAudiences.map(([k, v]) => [audienceKeys.has(k) ? h('a', { href: `#/audiences/${k}` }, k) : k, typeof v === 'object' ? JSON.stringify(v) : String(v)])) : h('p', { class: 'muted' }, 'In no audience.'),
        h('h3', null, 'Merge history'),
        p.merges.length ? table(['Profile merged in', 'Why', 'When'], p.merges.map((m) => [m.profileId, m.reason, when(m.mergedAt)])) : h('p', { class: 'muted' }, 'No merges.'),
      ),
    ),
  );
}

// The audit log: filters the API supports (action, actor token id, target path, time range) kept in
// the URL (`#/audit?action=…`, so a filtered view is a deep link and Back works), forward paging
// by cursor, an entry's request/before/after as JSON text, and the hash chain's verification.
import { api } from '../api.js';
import { add, fill, h, json, table, when } from '../dom.js';

const FILTERS = ['action', 'actor', 'target', 'from', 'to'];

/** datetime-local value (local time) ↔ ISO. */
const toLocal = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

export async function render(root, ctx) {
  const q = ctx.query;
  const inputs = Object.fromEntries(
    FILTERS.map((f) => [
      f,
      f === 'from' || f === 'to'
        ? h('input', { id: `audit-${f}`, type: 'datetime-local', value: toLocal(q.get(f)) })
        : h('input', { id: `audit-${f}`, value: q.get(f) ?? '', size: f === 'actor' ? 24 : 32, placeholder: { action: 'e.g. POST /api/tokens', actor: 'Token id', target: 'Path, e.g. /api/tokens' }[f] }),
    ]),
  );
  const limit = h('select', { id: 'audit-limit' }, ['25', '100', '500'].map((n) => h('option', { value: n, selected: (q.get('limit') ?? '100') === n }, n)));
  const form = h(
    'form',
    { class: 'card', id: 'audit-filters' },
    h('div', { class: 'row' }, FILTERS.map((f) => h('label', { class: 'inline' }, `${f} `, inputs[f]))),
    h('div', { class: 'row' }, h('label', { class: 'inline' }, 'per page ', limit), h('button', { class: 'primary', id: 'audit-apply' }, 'Filter'), h('a', { href: '#/audit', id: 'audit-clear' }, 'Clear')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const v = inputs[f].value.trim();
      if (v) next.set(f, f === 'from' || f === 'to' ? new Date(v).toISOString() : v);
    }
    if (limit.value !== '100') next.set('limit', limit.value);
    ctx.go(`audit?${next}`);
  });

  const params = new URLSearchParams();
  for (const k of [...FILTERS, 'limit', 'cursor']) if (q.get(k)) params.set(k, q.get(k));
  const entry = h('div', { id: 'audit-entry' });
  const list = h('section', { class: 'card', id: 'audit' });
  add(root, h('h2', null, 'Audit log'), form, verifyPanel(), list, entry);
  const { data, cursor } = await api(`/api/audit?${params}`);
  const rows = data.map((e) => ({
    cells: [e.seq, when(e.at), e.actor?.name ?? e.actor?.id ?? '', e.action, e.target, e.ip ?? ''],
    dataset: { seq: String(e.seq) },
    onclick: () => fill(entry, entryCard(e)),
  }));
  const nextPage = new URLSearchParams(params);
  if (cursor.next) nextPage.set('cursor', cursor.next);
  const firstPage = new URLSearchParams(params);
  firstPage.delete('cursor');
  add(
    list,
    rows.length ? table(['#', 'When', 'Who', 'Action', 'Target', 'IP'], rows) : h('p', { class: 'muted' }, 'No entries match.'),
    h(
      'div',
      { class: 'row' },
      h('span', { class: 'muted' }, `${data.length} entries, oldest first`),
      params.has('cursor') ? h('a', { href: `#/audit?${firstPage}`, id: 'audit-first' }, '← First page') : null,
      cursor.hasMore ? h('a', { href: `#/audit?${nextPage}`, id: 'audit-next' }, 'Next page →') : null,
    ),
  );
}

function entryCard(e) {
  const c = e.changes ?? {};
  return h(
    'section',
    { class: 'card', id: 'audit-entry-card' },
    h('h3', null, `#${e.seq} ${e.action}`),
    table(
      ['Field', 'Value'],
      [
        ['When', when(e.at)],
        ['Actor', `${e.actor?.name ?? ''} (${e.actor?.id ?? ''})`],
        ['Target', e.target],
        ['IP', e.ip ?? ''],
        ['User agent', e.userAgent ?? ''],
        ['Hash', h('code', null, e.hash)],
        ['Previous hash', h('code', null, e.prevHash)],
      ],
    ),
    h('div', { class: 'cols' }, h('div', { id: 'audit-before' }, h('h4', null, 'Before'), json(c.before ?? null)), h('div', { id: 'audit-after' }, h('h4', null, 'After'), json(c.after ?? null))),
    c.request !== undefined ? [h('h4', null, 'Request'), json(c.request)] : null,
    c.response !== undefined ? [h('h4', null, 'Response'), json(c.response)] : null,
  );
}

function verifyPanel() {
  const out = h('span', { id: 'audit-verify-result' });
  const button = h('button', { type: 'button', id: 'audit-verify' }, 'Verify the hash chain');
  button.addEventListener('click', async () => {
    fill(out, h('span', { class: 'muted' }, 'Checking every entry…'));
    try {
      const r = await api('/api/audit/verify');
      fill(
        out,
        r.ok
          ? h('span', { class: 'ok' }, `Intact: ${r.entries} entries chain correctly.`)
          : h('span', { class: 'error' }, `Broken at #${r.brokenAt?.seq} (${r.brokenAt?.id}): ${r.brokenAt?.reason}; ${r.entries} entries before it are intact.`),
      );
    } catch (err) {
      fill(out, h('span', { class: 'error' }, err.message));
    }
  });
  return h('section', { class: 'card', id: 'audit-verify-panel' }, h('div', { class: 'row' }, button, out));
}

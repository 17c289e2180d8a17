// Destinations: catalog and list, create/edit with forms from each type's settings schema, a test
// event, delivery health over time, recent errors with the vendor's answer, dead letters and replay.
import { api, can } from '../api.js';
import { timeChart } from '../charts.js';
import { add, fill, h, json, progress, table, when } from '../dom.js';
import { schemaForm } from '../form.js';

export async function render(root, ctx) {
  if (ctx.rest[0] === 'new') return editor(root, ctx, null);
  if (ctx.rest[0]) return detail(root, ctx, ctx.rest[0]);
  const { data } = await api('/api/destinations');
  add(root, 
    h('h2', null, 'Destinations'),
    can('destinations:write') ? h('p', null, h('a', { href: '#/destinations/new', id: 'new-destination' }, '+ Add a destination')) : null,
    h(
      'section',
      { class: 'card' },
      table(
        ['Name', 'Type', 'Status', 'Sources'],
        data.map((d) => ({
          cells: [h('a', { href: `#/destinations/${d.id}` }, d.name), d.type, d.enabled ? 'enabled' : 'disabled', d.sourceIds.join(', ') || '—'],
          onclick: () => ctx.go(`destinations/${d.id}`),
        })),
      ),
    ),
  );
}

async function editor(root, ctx, existing) {
  const [{ data: catalog }, { data: sources }] = await Promise.all([api('/api/destinations/catalog'), api('/api/sources')]);
  const type = h('select', { id: 'dest-type', disabled: Boolean(existing) }, catalog.map((c) => h('option', { value: c.type, selected: existing?.type === c.type }, `${c.name} (${c.type})`)));
  const name = h('input', { id: 'dest-name', value: existing?.name ?? '', required: true, size: 40 });
  const picks = sources.map((s) => ({ s, box: h('input', { type: 'checkbox', value: s.id, checked: existing ? existing.sourceIds.includes(s.id) || existing.sourceIds.includes('*') : true }) }));
  const filters = h('textarea', { id: 'dest-filters', rows: 3, value: JSON.stringify(existing?.filters ?? [], null, 2) });
  const settingsBox = h('div', { id: 'dest-settings' });
  const error = h('p', { class: 'error', id: 'dest-error' });
  let form;
  const drawSettings = () => {
    const c = catalog.find((x) => x.type === type.value);
    form = schemaForm(c?.settings, existing?.settings ?? {}, c?.secrets ?? []);
    fill(settingsBox, c?.description ? h('p', { class: 'muted' }, c.description) : null, form.el);
  };
  type.addEventListener('change', drawSettings);
  drawSettings();
  const save = h('button', { class: 'primary', id: 'dest-save' }, existing ? 'Save' : 'Create destination');
  const el = h(
    'form',
    { class: 'card' },
    h('label', null, 'Type'),
    type,
    h('label', null, 'Name'),
    name,
    h('label', null, 'Sources'),
    picks.map(({ s, box }) => h('div', null, box, ' ', h('span', null, s.name))),
    h('h3', null, 'Settings'),
    settingsBox,
    h('label', null, 'Filters (JSON, applied in order)'),
    filters,
    h('div', { class: 'row' }, save),
    error,
  );
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const body = {
        name: name.value,
        sourceIds: picks.filter((p) => p.box.checked).map((p) => p.s.id),
        settings: form.read(),
        filters: JSON.parse(filters.value || '[]'),
      };
      const d = existing
        ? await api(`/api/destinations/${existing.id}`, { method: 'PATCH', body })
        : await api('/api/destinations', { method: 'POST', body: { ...body, type: type.value } });
      ctx.go(`destinations/${d.id}`);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  add(root, h('p', null, h('a', { href: '#/destinations' }, '← Destinations')), h('h2', null, existing ? `Edit ${existing.name}` : 'New destination'), el);
}

async function detail(root, ctx, id) {
  if (ctx.rest[1] === 'edit') return editor(root, ctx, await api(`/api/destinations/${encodeURIComponent(id)}`));
  const hours = Number(ctx.query.get('hours') ?? 24);
  const [d, health, failures] = await Promise.all([
    api(`/api/destinations/${encodeURIComponent(id)}`),
    api(`/api/destinations/${encodeURIComponent(id)}/health?hours=${hours}&interval=${hours <= 6 ? 5 : 60}`),
    api(`/api/destinations/${encodeURIComponent(id)}/failures?limit=100`),
  ]);
  const t = health.totals;
  const chartEl = h('div', { id: 'health-chart' });
  const latencyEl = h('div', { id: 'latency-chart' });
  const testOut = h('div', { id: 'test-result' });
  const testBtn = h('button', { type: 'button', id: 'send-test' }, 'Send a test event');
  testBtn.addEventListener('click', async () => {
    try {
      fill(testOut, json(await api(`/api/destinations/${d.id}/test`, { method: 'POST' })));
    } catch (err) {
      fill(testOut, h('p', { class: 'error' }, err.message));
    }
  });
  const bar = h('div', { id: 'replay-progress' });
  const replayBtn = h('button', { type: 'button', id: 'replay-all', class: 'primary', disabled: !failures.data.length }, `Replay ${failures.data.length} dead letters`);
  replayBtn.addEventListener('click', async () => {
    replayBtn.disabled = true;
    try {
      const r = await api(`/api/destinations/${d.id}/replay`, { method: 'POST', body: { all: true } });
      await followReplay(d.id, r.replayed, t.delivered + t.failed + t.retried, bar, hours);
    } catch (err) {
      fill(bar, h('p', { class: 'error' }, err.message));
    }
  });
  add(root, 
    h('p', null, h('a', { href: '#/destinations' }, '← Destinations')),
    h('h2', null, `${d.name} `, h('span', { class: 'badge' }, d.type), can('destinations:write') ? h('a', { href: `#/destinations/${d.id}/edit`, class: 'muted' }, ' edit') : null),
    h(
      'div',
      { class: 'grid', id: 'health-totals' },
      [['delivered', t.delivered], ['retrying', health.retrying], ['failed', t.failed], ['filtered', t.filtered], ['p95 latency', t.p95Ms === null ? '—' : `${t.p95Ms} ms`]].map(([k, v]) =>
        h('div', { class: 'stat', dataset: { metric: k } }, h('b', null, v), k),
      ),
    ),
    h('section', { class: 'card' }, h('h3', null, `Delivery over the last ${hours} h`), chartEl, h('h3', null, 'p95 latency (ms)'), latencyEl),
    can('destinations:write') ? h('section', { class: 'card' }, testBtn, testOut) : null,
    h(
      'section',
      { class: 'card', id: 'failures' },
      h('h3', null, 'Recent errors and dead letters'),
      can('destinations:write') ? h('div', { class: 'row' }, replayBtn, bar) : null,
      table(
        ['Failed', 'Event', 'Status', 'Error', "Vendor's answer", 'Attempts', 'Replayed'],
        failures.data.map((f) => [when(f.failedAt), `${f.type} ${f.name ?? ''}`, f.status ?? '—', f.error, h('pre', null, f.response ?? ''), f.attempts, f.replayedAt ? `${when(f.replayedAt)} (${f.replayCount}×)` : '—']),
      ),
    ),
  );
  const at = health.series.map((s) => s.at);
  const destroy = [
    timeChart(chartEl, at, Object.entries({ delivered: '#2f9e44', retried: '#f08c00', failed: '#e03131', filtered: '#868e96' }).map(([k, color]) => ({ label: k, color, values: health.series.map((s) => s[k]) })), { bars: true }),
    timeChart(latencyEl, at, [{ label: 'p95 ms', values: health.series.map((s) => s.p95Ms) }], { height: 160 }),
  ];
  return () => destroy.forEach((f) => f());
}

/** Fills the bar as the replayed events are attempted again (delivered or failed anew). */
async function followReplay(id, replayed, before, bar, hours) {
  const draw = (done) => fill(bar, progress((100 * done) / Math.max(1, replayed)), h('span', { id: 'replay-count' }, ` ${done} / ${replayed} attempted`));
  draw(0);
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const h2 = await api(`/api/destinations/${id}/health?hours=${hours}&interval=60`).catch(() => null);
    if (!h2) continue;
    const done = Math.min(replayed, h2.totals.delivered + h2.totals.failed + h2.totals.retried - before);
    draw(Math.max(0, done));
    if (done >= replayed) return;
  }
}

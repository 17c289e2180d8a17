// Tracking plans (Segment Protocols): the list, a new plan or one drafted from a source's observed
// schema; a plan's page with its rules (edited as JSON, the API's 400 message shown), connected
// sources, each source's schema controls, and the plan's violations with a sample event.
import { api, can } from '../api.js';
import { add, fill, h, json, table, when } from '../dom.js';

const enc = encodeURIComponent;
// Without sources:read the page shows source ids only (and asks nothing it would be refused).
const sourcesList = () => (can('sources:read') ? api('/api/sources').then((r) => r.data, () => []) : Promise.resolve([]));
const sourceName = (sources, id) => sources.find((s) => s.id === id)?.name ?? id;

export async function render(root, ctx) {
  if (ctx.rest[0]) return plan(root, ctx, ctx.rest[0]);
  const [{ data }, sources] = await Promise.all([api('/api/tracking-plans'), sourcesList()]);
  add(
    root,
    h('h2', null, 'Tracking plans'),
    can('governance:write') ? [createForm(ctx), draftForm(ctx, sources)] : null,
    h(
      'section',
      { class: 'card', id: 'plans' },
      table(
        ['Name', 'Rules', 'Sources', 'Updated'],
        data.map((p) => ({
          cells: [h('a', { href: `#/tracking-plans/${enc(p.id)}` }, p.name), p.rules?.length ?? 0, (p.sourceIds ?? []).map((s) => sourceName(sources, s)).join(', '), when(p.updatedAt)],
          dataset: { plan: p.id },
          onclick: () => ctx.go(`tracking-plans/${enc(p.id)}`),
        })),
      ),
      data.length ? null : h('p', { class: 'muted' }, 'No tracking plans yet.'),
    ),
  );
}

function createForm(ctx) {
  const name = h('input', { id: 'tp-name', placeholder: 'Plan name', size: 40, required: true });
  const description = h('input', { id: 'tp-description', placeholder: 'Description (optional)', size: 50 });
  const error = h('p', { class: 'error', id: 'tp-create-error' });
  const form = h('form', { class: 'card', id: 'tp-create' }, h('h3', null, 'New tracking plan'), h('div', { class: 'row' }, name, description, h('button', { class: 'primary' }, 'Create plan')), error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const p = await api('/api/tracking-plans', { method: 'POST', body: { name: name.value, ...(description.value ? { description: description.value } : {}) } });
      ctx.go(`tracking-plans/${enc(p.id)}`);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

function draftForm(ctx, sources) {
  if (!sources.length) return null;
  const source = h('select', { id: 'tp-draft-source' }, sources.map((s) => h('option', { value: s.id }, s.name)));
  const error = h('p', { class: 'error', id: 'tp-draft-error' });
  const button = h('button', { type: 'button', id: 'tp-draft' }, 'Draft a plan');
  button.addEventListener('click', async () => {
    try {
      const p = await api(`/api/tracking-plans/from-source/${enc(source.value)}`, { method: 'POST' });
      ctx.go(`tracking-plans/${enc(p.id)}`);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return h('section', { class: 'card' }, h('h3', null, "Draft from a source's observed events"), h('div', { class: 'row' }, source, button), error);
}

async function plan(root, ctx, id) {
  const writable = can('governance:write');
  const [p, sources, violations] = await Promise.all([api(`/api/tracking-plans/${enc(id)}`), sourcesList(), api(`/api/tracking-plans/${enc(id)}/violations`)]);
  add(
    root,
    h('p', null, h('a', { href: '#/tracking-plans' }, '← Tracking plans')),
    h('h2', { id: 'tp-title' }, p.name),
    p.description ? h('p', { class: 'muted' }, p.description) : null,
    rulesPanel(p, writable),
    sourcesPanel(p, sources, writable),
    await settingsPanel(p, sources, writable),
    violationsPanel(violations.data, sources),
  );
}

function ruleRows(rules) {
  return rules.map((r) => [r.type, r.key ?? '—', Object.keys(r.jsonSchema?.properties?.properties?.properties ?? r.jsonSchema?.properties?.traits?.properties ?? {}).join(', '), h('details', null, h('summary', null, 'JSON Schema'), json(r.jsonSchema))]);
}

function rulesPanel(p, writable) {
  const list = h('div', { id: 'tp-rules' });
  const draw = (rules) => fill(list, rules.length ? table(['Type', 'Event', 'Properties', 'Schema'], ruleRows(rules)) : h('p', { class: 'muted' }, 'No rules yet: every event is unplanned.'));
  draw(p.rules);
  const box = h('section', { class: 'card', id: 'tp-rules-panel' }, h('h3', null, 'Rules'), list);
  if (!writable) return box;
  const text = h('textarea', { id: 'tp-rules-json', rows: 12, spellcheck: 'false', value: JSON.stringify(p.rules, null, 2) });
  const error = h('p', { class: 'error', id: 'tp-rules-error', role: 'alert' });
  const saved = h('span', { class: 'ok', id: 'tp-rules-saved' });
  const save = h('button', { type: 'button', class: 'primary', id: 'tp-rules-save' }, 'Save rules');
  save.addEventListener('click', async () => {
    error.textContent = '';
    saved.textContent = '';
    let rules;
    try {
      rules = JSON.parse(text.value);
    } catch (err) {
      error.textContent = `The rules are not JSON: ${err.message}`;
      return;
    }
    try {
      const next = await api(`/api/tracking-plans/${enc(p.id)}/rules`, { method: 'PUT', body: { rules } });
      p.rules = next.rules;
      draw(next.rules);
      saved.textContent = `Saved ${next.rules.length} rule(s).`;
    } catch (err) {
      error.textContent = err.message;
    }
  });
  add(
    box,
    h('label', { for: 'tp-rules-json' }, 'Edit as JSON: [{ "type": "TRACK", "key": "Order Completed", "jsonSchema": { … } }]'),
    text,
    h('div', { class: 'row' }, save, saved),
    error,
  );
  return box;
}

function sourcesPanel(p, sources, writable) {
  const error = h('p', { class: 'error', id: 'tp-source-error' });
  const act = async (method, path, body) => {
    try {
      await api(path, { method, body });
      location.reload();
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const rows = p.sourceIds.map((s) => ({
    cells: [sourceName(sources, s), h('code', null, s), writable ? h('button', { type: 'button', class: 'tp-disconnect', onclick: () => act('DELETE', `/api/tracking-plans/${enc(p.id)}/sources/${enc(s)}`) }, 'Disconnect') : ''],
    dataset: { source: s },
  }));
  const box = h('section', { class: 'card', id: 'tp-sources' }, h('h3', null, 'Connected sources'), rows.length ? table(['Source', 'Id', ''], rows) : h('p', { class: 'muted' }, 'No source is connected: the plan checks nothing yet.'));
  const free = sources.filter((s) => !p.sourceIds.includes(s.id));
  if (writable && free.length) {
    const pick = h('select', { id: 'tp-connect-source' }, free.map((s) => h('option', { value: s.id }, s.name)));
    const connect = h('button', { type: 'button', id: 'tp-connect', onclick: () => act('POST', `/api/tracking-plans/${enc(p.id)}/sources`, { sourceId: pick.value }) }, 'Connect');
    add(box, h('div', { class: 'row' }, pick, connect, h('span', { class: 'muted' }, 'A source has at most one plan.')));
  }
  return add(box, error);
}

async function settingsPanel(p, sources, writable) {
  const box = h('section', { class: 'card', id: 'tp-settings' }, h('h3', null, 'Schema settings'));
  if (!p.sourceIds.length) return add(box, h('p', { class: 'muted' }, 'Connect a source to set what happens to unplanned events and violations.'));
  for (const s of p.sourceIds) {
    const settings = await api(`/api/sources/${enc(s)}/schema-settings`);
    const text = h('textarea', { class: 'tp-settings-json', rows: 8, spellcheck: 'false', value: JSON.stringify(settings, null, 2), disabled: !writable });
    const note = h('span');
    add(box, h('h4', null, sourceName(sources, s)), text);
    if (!writable) continue;
    const save = h('button', { type: 'button', class: 'tp-settings-save' }, 'Save settings');
    save.addEventListener('click', async () => {
      try {
        await api(`/api/sources/${enc(s)}/schema-settings`, { method: 'PUT', body: JSON.parse(text.value) });
        fill(note, h('span', { class: 'ok' }, 'Saved.'));
      } catch (err) {
        fill(note, h('span', { class: 'error' }, err.message));
      }
    });
    add(box, h('div', { class: 'row' }, save, note));
  }
  return box;
}

function violationsPanel(list, sources) {
  const sample = h('div', { id: 'tp-sample' });
  const rows = list.map((v) => ({
    cells: [v.eventName ? `${v.eventType} ${v.eventName}` : v.eventType, v.field, v.violationType, v.count, when(v.lastSeen), sourceName(sources, v.sourceId)],
    onclick: () => fill(sample, h('h4', null, `Sample: ${v.eventName || v.eventType} · ${v.field}`), json(v.sample)),
  }));
  return h(
    'section',
    { class: 'card', id: 'tp-violations' },
    h('h3', null, 'Violations'),
    rows.length ? table(['Event', 'Property', 'Rule broken', 'Count', 'Last seen', 'Source'], rows) : h('p', { class: 'muted' }, 'No violations counted under this plan.'),
    sample,
  );
}

// Functions: the list; an editor (code and declared settings) that saves a new version, which is
// what every instance following the latest runs (deploy); a test run of the unsaved code with its
// output, logs and error; instances bound to sources or destinations; recent invocations.
import { api, can } from '../api.js';
import { add, fill, h, json, table, when } from '../dom.js';

const SAMPLE = {
  source: "async function onRequest(request, settings) {\n  const body = await request.json();\n  console.log('received', body.type);\n  Segment.track({ event: body.type ?? 'Webhook Received', userId: body.userId ?? 'anonymous', properties: body });\n}\n",
  insert: "async function onTrack(event, settings) {\n  console.log('enriching', event.event);\n  event.properties = { ...event.properties, enriched: true };\n  return event;\n}\n",
  destination: "async function onTrack(event, settings) {\n  await fetch(settings.url, { method: 'POST', body: JSON.stringify(event) });\n}\n",
};

export async function render(root, ctx) {
  if (ctx.rest[0] === 'new') return editor(root, ctx, null);
  if (ctx.rest[0]) return editor(root, ctx, await api(`/api/functions/${encodeURIComponent(ctx.rest[0])}`));
  const { data } = await api('/api/functions');
  add(
    root,
    h('h2', null, 'Functions'),
    can('functions:write') ? h('p', null, h('a', { href: '#/functions/new', id: 'new-function' }, '+ Write a function')) : null,
    h(
      'section',
      { class: 'card', id: 'functions' },
      data.length
        ? table(
            ['Name', 'Kind', 'Version', 'Updated'],
            data.map((f) => ({ cells: [h('a', { href: `#/functions/${f.id}` }, f.name), f.kind, f.latestVersion, when(f.updatedAt)], onclick: () => ctx.go(`functions/${f.id}`) })),
          )
        : h('p', { class: 'muted' }, 'No functions yet.'),
    ),
  );
}

const parse = (text, what, fallback) => {
  if (!text.trim()) return fallback;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not JSON: ${err.message}`);
  }
};

async function editor(root, ctx, fn) {
  const writable = can('functions:write');
  const name = h('input', { id: 'fn-name', value: fn?.name ?? '', placeholder: 'Name', size: 40, required: true });
  const kind = h('select', { id: 'fn-kind', disabled: Boolean(fn) }, ['source', 'insert', 'destination'].map((k) => h('option', { value: k, selected: fn?.kind === k }, k)));
  const code = h('textarea', { id: 'fn-code', rows: 14, spellcheck: 'false', value: fn?.code ?? SAMPLE.source });
  kind.addEventListener('change', () => {
    if (Object.values(SAMPLE).includes(code.value)) code.value = SAMPLE[kind.value];
  });
  const settings = h('textarea', { id: 'fn-settings', rows: 3, value: JSON.stringify(fn?.settings ?? [], null, 2) });
  const error = h('p', { class: 'error', id: 'fn-error' });
  const saved = h('span', { id: 'fn-saved', class: 'ok' });
  const save = h('button', { class: 'primary', id: 'fn-save', disabled: !writable }, fn ? 'Save and deploy a new version' : 'Create function');
  const form = h(
    'form',
    { class: 'card', id: 'fn-form' },
    h('div', { class: 'row' }, name, kind, fn ? h('span', { class: 'badge', id: 'fn-version' }, `version ${fn.version}`) : null),
    h('label', { for: 'fn-code' }, 'Code'),
    code,
    h('label', { for: 'fn-settings' }, 'Declared settings (JSON: [{ "name", "type", "required", "secret" }])'),
    settings,
    h('div', { class: 'row' }, save, saved),
    error,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const declared = parse(settings.value, 'Settings', []);
      if (!fn) {
        const made = await api('/api/functions', { method: 'POST', body: { name: name.value, kind: kind.value, code: code.value, settings: declared } });
        return ctx.go(`functions/${made.id}`);
      }
      const v = await api(`/api/functions/${fn.id}`, { method: 'PUT', body: { name: name.value, code: code.value, settings: declared } });
      fn.version = v.version;
      document.getElementById('fn-version').textContent = `version ${v.version}`;
      saved.textContent = `Version ${v.version} deployed: instances that follow the latest run it now.`;
    } catch (err) {
      error.textContent = err.message;
    }
  });
  add(root, h('p', null, h('a', { href: '#/functions' }, '← Functions')), h('h2', null, fn ? fn.name : 'New function'), form);
  if (!fn) return;
  add(root, writable ? testPanel(fn, code) : null, await instancesPanel(fn, writable), await invocationsPanel(fn));
}

function testPanel(fn, code) {
  const source = fn.kind === 'source';
  const input = h('textarea', {
    id: 'fn-test-input',
    rows: 5,
    value: JSON.stringify(source ? { type: 'Order Paid', userId: 'user-1', total: 30 } : { type: 'track', event: 'Test Event', userId: 'test-user', properties: {} }, null, 2),
  });
  const values = h('textarea', { id: 'fn-test-settings', rows: 2, value: '{}' });
  const out = h('div', { id: 'fn-test-result' });
  const run = h('button', { type: 'button', id: 'fn-test', class: 'primary' }, 'Run test');
  run.addEventListener('click', async () => {
    fill(out, h('p', { class: 'muted' }, 'Running…'));
    try {
      const sample = parse(input.value, source ? 'The request body' : 'The event', {});
      const body = { code: code.value, settings: parse(values.value, 'Setting values', {}), ...(source ? { payload: sample } : { event: sample }) };
      const r = await api(`/api/functions/${fn.id}/test`, { method: 'POST', body });
      fill(
        out,
        h('p', null, r.error ? h('span', { class: 'error', id: 'fn-test-error' }, `${r.error.name}: ${r.error.message}`) : h('span', { class: 'ok' }, 'Ran without error'), ` in ${r.durationMs} ms`),
        h('h3', null, 'Logs'),
        h('pre', { id: 'fn-test-logs' }, r.logs.length ? r.logs.map((l) => `[${l.level}] ${l.message}`).join('\n') : '(nothing logged)'),
        h('h3', null, 'Output'),
        h('div', { id: 'fn-test-output' }, json(r.output)),
      );
    } catch (err) {
      fill(out, h('p', { class: 'error' }, err.message));
    }
  });
  return h(
    'section',
    { class: 'card', id: 'fn-test-panel' },
    h('h3', null, 'Test'),
    h('label', { for: 'fn-test-input' }, source ? 'Sample request body (JSON)' : 'Sample event (JSON)'),
    input,
    h('label', { for: 'fn-test-settings' }, 'Setting values (JSON)'),
    values,
    h('div', { class: 'row' }, run, h('span', { class: 'muted' }, 'Runs the code in the editor; nothing is sent or ingested.')),
    out,
  );
}

async function instancesPanel(fn, writable) {
  const [sources, dests] = await Promise.all([api('/api/sources').catch(() => ({ data: [] })), api('/api/destinations').catch(() => ({ data: [] }))]);
  const box = h('section', { class: 'card', id: 'fn-instances' }, h('h3', null, 'Instances'));
  add(
    box,
    fn.instances.length
      ? table(
          ['Instance', 'Bound to', 'Version', 'Settings', 'URL'],
          fn.instances.map((i) => [i.id, i.sourceId ? `source ${i.sourceId}` : i.destinationId ? `destination ${i.destinationId}` : 'every source', i.version ?? 'latest', JSON.stringify(i.settings), i.url ? h('code', null, i.url) : '—']),
        )
      : h('p', { class: 'muted' }, 'Not bound anywhere yet.'),
  );
  if (!writable) return box;
  const targets = [...sources.data.map((s) => [`source:${s.id}`, `source ${s.name}`]), ...(fn.kind === 'insert' ? dests.data.map((d) => [`destination:${d.id}`, `destination ${d.name}`]) : [])];
  if (fn.kind === 'destination') targets.unshift(['', 'every source']);
  const target = h('select', { id: 'fn-target' }, targets.map(([v, label]) => h('option', { value: v }, label)));
  const values = h('input', { id: 'fn-instance-settings', size: 40, value: '{}', placeholder: 'setting values (JSON)' });
  const error = h('span', { class: 'error' });
  const bind = h('button', { type: 'button', id: 'fn-bind' }, 'Connect');
  bind.addEventListener('click', async () => {
    try {
      const [what, id] = target.value.split(':');
      const body = { settings: parse(values.value, 'Setting values', {}), ...(what === 'source' ? { sourceId: id } : what === 'destination' ? { destinationId: id } : {}) };
      await api(`/api/functions/${fn.id}/instances`, { method: 'POST', body });
      location.reload();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  add(box, h('div', { class: 'row' }, target, values, bind, error));
  return box;
}

async function invocationsPanel(fn) {
  const { data } = await api(`/api/functions/${fn.id}/invocations`);
  const rows = data.flatMap((i) => i.recent.map((r) => [when(r.at), i.instanceId, r.version, r.status, `${r.durationMs} ms`, r.error ?? '', r.logs.map((l) => `[${l.level}] ${l.message}`).join('\n')]));
  return h(
    'section',
    { class: 'card', id: 'fn-invocations' },
    h('h3', null, 'Recent invocations'),
    data.length ? h('div', { class: 'grid' }, data.map((i) => h('div', { class: 'stat' }, h('b', null, `${i.invocations} / ${i.errors}`), `invocations / errors of ${i.instanceId}`))) : null,
    rows.length ? table(['At', 'Instance', 'Version', 'Status', 'Duration', 'Error', 'Logs'], rows) : h('p', { class: 'muted' }, 'No invocations yet.'),
  );
}

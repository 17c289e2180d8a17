// Audiences: list; a builder for the condition tree with a live size preview; an audience's size
// over time, back-fill progress, members and connected destinations.
import { api, can } from '../api.js';
import { timeChart } from '../charts.js';
import { add, fill, h, progress, table, when } from '../dom.js';

export async function render(root, ctx) {
  if (ctx.rest[0] === 'new') return builder(root, ctx);
  if (ctx.rest[0]) return detail(root, ctx.rest[0]);
  const [{ data }, traits] = await Promise.all([api('/api/audiences'), api('/api/computed-traits').catch(() => ({ data: [] }))]);
  add(root, 
    h('h2', null, 'Audiences and computed traits'),
    can('engage:write') ? h('p', null, h('a', { href: '#/audiences/new', id: 'new-audience' }, '+ Build an audience')) : null,
    h(
      'section',
      { class: 'card' },
      table(
        ['Name', 'Key', 'Back-fill', 'Updated'],
        data.map((a) => ({
          cells: [h('a', { href: `#/audiences/${a.key}` }, a.name), a.key, h('div', null, progress(a.percent ?? 100), ` ${a.status}`), when(a.updatedAt)],
          onclick: () => ctx.go(`audiences/${a.key}`),
        })),
      ),
    ),
    h(
      'section',
      { class: 'card', id: 'computed-traits' },
      h('h3', null, 'Computed traits ', h('a', { href: '#/computed-traits', class: 'muted' }, '(build and edit)')),
      table(
        ['Name', 'Key', 'Type', 'Over', 'Back-fill'],
        traits.data.map((t) => [h('a', { href: `#/computed-traits/${t.key}` }, t.name), t.key, t.type, `${t.event}${t.where ? ` where ${t.where}` : ''}${t.within ? ` in ${t.within}` : ''}`, h('div', null, progress(t.percent ?? 100), ` ${t.status}`)]),
      ),
    ),
  );
}

const OPS = ['=', '!=', '>', '>=', '<', '<=', 'contains', 'starts_with', 'exists', 'in'];
const parseValue = (s) => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

/** One editable node of the tree; `read()` gives its condition. */
function conditionNode(onChange, depth = 0) {
  const kind = h('select', { class: 'cond-kind' }, ['event', 'trait', 'audience', 'computed', 'and', 'or', 'not'].map((k) => h('option', { value: k }, k)));
  const body = h('div', { class: 'cond-body' });
  const box = h('div', { class: 'cond' }, h('div', { class: 'row' }, kind, body));
  let read = () => null;
  const input = (props) => {
    const el = h('input', props);
    el.addEventListener('input', onChange);
    return el;
  };
  const draw = () => {
    const k = kind.value;
    if (k === 'event') {
      const event = input({ class: 'cond-event', placeholder: 'Event name', size: 18 });
      const op = h('select', null, ['>=', '=', '<=', '>', '<'].map((o) => h('option', { value: o }, o)));
      const n = input({ type: 'number', value: 1, min: 0, size: 4 });
      const within = input({ placeholder: 'within, e.g. 30d', size: 10 });
      const where = input({ placeholder: "where (FQL), e.g. properties.total > 20", size: 30 });
      op.addEventListener('change', onChange);
      fill(body, 'performed', event, op, n, 'times', within, where);
      read = () => ({ event: event.value, count: { [op.value]: Number(n.value) }, ...(within.value ? { within: within.value } : {}), ...(where.value ? { where: where.value } : {}) });
    } else if (k === 'trait' || k === 'computed') {
      const name = input({ class: 'cond-trait', placeholder: k === 'trait' ? 'trait' : 'computed trait key', size: 16 });
      const op = h('select', { class: 'cond-op' }, OPS.map((o) => h('option', { value: o }, o)));
      const value = input({ class: 'cond-value', placeholder: 'value (JSON or text)', size: 16 });
      op.addEventListener('change', onChange);
      fill(body, name, op, value);
      read = () => ({ [k]: name.value, op: op.value, ...(op.value === 'exists' ? {} : { value: parseValue(value.value) }) });
    } else if (k === 'audience') {
      const key = input({ placeholder: 'audience key', size: 16 });
      fill(body, 'is in', key);
      read = () => ({ audience: key.value });
    } else {
      const children = [];
      const list = h('div');
      const addChild = () => {
        const c = conditionNode(onChange, depth + 1);
        children.push(c);
        list.append(c.el);
        onChange();
      };
      const more = h('button', { type: 'button', class: 'cond-add' }, k === 'not' ? 'set condition' : '+ condition');
      more.addEventListener('click', () => (k !== 'not' || !children.length) && addChild());
      fill(body, list, more);
      addChild();
      read = () => (k === 'not' ? { not: children[0].read() } : { [k]: children.map((c) => c.read()) });
    }
  };
  kind.addEventListener('change', () => {
    draw();
    onChange();
  });
  if (depth === 0) kind.value = 'and';
  draw();
  return { el: box, read: () => read() };
}

/** True when every node names what it tests: only then is a preview worth asking for. */
function complete(c) {
  if (!c || typeof c !== 'object') return false;
  if (c.and) return c.and.length > 0 && c.and.every(complete);
  if (c.or) return c.or.length > 0 && c.or.every(complete);
  if ('not' in c) return complete(c.not);
  if ('event' in c) return c.event.trim() !== '';
  if ('trait' in c) return c.trait.trim() !== '';
  if ('computed' in c) return c.computed.trim() !== '';
  if ('audience' in c) return c.audience.trim() !== '';
  return false;
}

async function builder(root, ctx) {
  const name = h('input', { id: 'aud-name', placeholder: 'Name', required: true, size: 30 });
  const key = h('input', { id: 'aud-key', placeholder: 'key_in_snake_case', required: true, size: 24 });
  const preview = h('div', { id: 'aud-preview', class: 'stat' }, 'Size preview: —');
  const error = h('p', { class: 'error', id: 'aud-error' });
  let timer;
  const onChange = () => {
    clearTimeout(timer);
    timer = setTimeout(runPreview, 300);
  };
  const tree = conditionNode(onChange);
  const { data: dests } = await api('/api/destinations').catch(() => ({ data: [] }));
  const picks = dests.map((d) => ({ d, box: h('input', { type: 'checkbox', value: d.id }) }));
  async function runPreview() {
    const definition = tree.read();
    if (!complete(definition)) {
      fill(preview, 'Size preview: complete the conditions');
      return;
    }
    try {
      const r = await api('/api/audiences/preview', { method: 'POST', body: { definition } });
      fill(preview, h('b', { id: 'aud-estimate' }, r.estimate), ` profiles (${r.matched} of ${r.sampled} sampled${r.exact ? ', exact' : ''})`, r.caveats?.length ? h('div', { class: 'muted' }, r.caveats.join(' ')) : null);
      error.textContent = '';
    } catch (err) {
      fill(preview, 'Size preview: —');
      error.textContent = err.message;
    }
  }
  const form = h(
    'form',
    { class: 'card', id: 'aud-form' },
    h('div', { class: 'row' }, name, key),
    h('h3', null, 'Conditions'),
    tree.el,
    h('h3', null, 'Send to'),
    picks.length ? picks.map(({ d, box }) => h('div', null, box, ' ', d.name)) : h('p', { class: 'muted' }, 'No destinations yet.'),
    h('div', { class: 'row' }, h('button', { class: 'primary', id: 'aud-save' }, 'Save audience')),
    error,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const a = await api('/api/audiences', {
        method: 'POST',
        body: { key: key.value, name: name.value, definition: tree.read(), destinationIds: picks.filter((p) => p.box.checked).map((p) => p.d.id) },
      });
      ctx.go(`audiences/${a.key}`);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  add(root, h('p', null, h('a', { href: '#/audiences' }, '← Audiences')), h('h2', null, 'Build an audience'), preview, form);
  return () => clearTimeout(timer);
}

async function detail(root, key) {
  const a = await api(`/api/audiences/${encodeURIComponent(key)}`);
  const members = await api(`/api/audiences/${encodeURIComponent(key)}/members?limit=100`);
  const chartEl = h('div', { id: 'size-chart' });
  const bar = h('div', { id: 'backfill' }, progress(a.percent ?? 100), ` ${a.status} ${a.percent ?? 100} %`);
  add(root, 
    h('p', null, h('a', { href: '#/audiences' }, '← Audiences')),
    h('h2', null, `${a.name} `, h('span', { class: 'badge' }, a.key)),
    h('div', { class: 'grid' }, h('div', { class: 'stat' }, h('b', { id: 'aud-size' }, a.size), 'members'), h('div', { class: 'stat' }, 'Back-fill', bar)),
    h('section', { class: 'card' }, h('h3', null, 'Size over time'), chartEl),
    h(
      'div',
      { class: 'cols' },
      h('section', { class: 'card', id: 'members' }, h('h3', null, 'Members'), table(['Profile', 'Since'], members.data.map((m) => [h('a', { href: `#/profiles/${m.profileId}` }, m.profileId), when(m.enteredAt ?? m.since)]))),
      h(
        'section',
        { class: 'card' },
        h('h3', null, 'Definition'),
        h('pre', null, JSON.stringify(a.definition, null, 2)),
        h('h3', null, 'Connected destinations'),
        a.destinationIds?.length ? h('ul', null, a.destinationIds.map((d) => h('li', null, h('a', { href: `#/destinations/${d}` }, d)))) : h('p', { class: 'muted' }, 'None.'),
      ),
    ),
  );
  const history = [...(a.history ?? [])].reverse();
  const days = history.length ? history.map((x) => `${x.day}T00:00:00Z`) : [new Date().toISOString()];
  const destroy = timeChart(chartEl, days, [{ label: 'size', values: history.length ? history.map((x) => x.size) : [a.size] }]);
  // A running back-fill: refresh its bar until it is ready.
  let timer;
  if (a.status === 'computing') {
    timer = setInterval(async () => {
      const now = await api(`/api/audiences/${encodeURIComponent(key)}`).catch(() => null);
      if (!now) return;
      fill(bar, progress(now.percent), ` ${now.status} ${now.percent} %`);
      document.getElementById('aud-size').textContent = now.size;
      if (now.status !== 'computing') clearInterval(timer);
    }, 1000);
  }
  return () => {
    clearInterval(timer);
    destroy();
  };
}

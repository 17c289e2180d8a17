// Insights: trends, funnels and retention over unified profiles, saved reports and a dashboard of
// them. Each report's query lives in the URL (`#/trends?q=…`), so a report can be linked and Back works.
import { api, can } from '../api.js';
import { barChart, timeChart } from '../charts.js';
import { add, fill, h, table } from '../dom.js';

const DAY = 86_400_000;
/** A result table (uPlot's legend is a table too). */
const tableOf = (headers, rows) => {
  const t = table(headers, rows);
  t.className = 'result';
  return t;
};
const iso = (ms) => new Date(ms).toISOString();
const defaultRange = () => {
  const to = Math.ceil(Date.now() / DAY) * DAY;
  return { from: iso(to - 14 * DAY), to: iso(to) };
};
const fromUrl = (query, fallback) => {
  try {
    return { ...fallback, ...JSON.parse(query.get('q') ?? '{}') };
  } catch {
    return fallback;
  }
};
const field = (label, el) => h('span', null, h('label', { class: 'inline' }, `${label} `), el);
const dateInput = (id, value) => h('input', { id, type: 'date', value: value.slice(0, 10) });
const dateValue = (el) => new Date(`${el.value}T00:00:00Z`).toISOString();
const opt = (values, selected, id) => h('select', { id }, values.map((v) => h('option', { value: v, selected: v === selected }, v)));
const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== '' && v !== undefined));

function saveBox(kind, queryOf) {
  const name = h('input', { id: 'report-name', placeholder: 'Report name', size: 24 });
  const btn = h('button', { type: 'button', id: 'save-report' }, 'Save to dashboard');
  const out = h('span', { class: 'muted' });
  btn.addEventListener('click', async () => {
    try {
      await api('/api/insights/reports', { method: 'POST', body: { name: name.value || kind, kind, query: queryOf(), dashboard: true } });
      out.textContent = 'Saved.';
    } catch (err) {
      out.textContent = err.message;
    }
  });
  return can('insights:write') ? h('div', { class: 'row' }, name, btn, out) : null;
}

/** Draws a trends answer; returns the chart's cleanup. */
function drawTrends(el, res) {
  const times = res.series[0]?.points.map((p) => p.t) ?? [];
  const chart = h('div', { class: 'trends-chart' });
  fill(
    el,
    chart,
    tableOf(['Series', 'Total'], res.series.map((s) => [s.key, s.points.reduce((a, p) => a + p.value, 0)])),
  );
  return times.length ? timeChart(chart, times, res.series.map((s) => ({ label: s.key, values: s.points.map((p) => p.value) }))) : () => {};
}

function drawFunnel(el, res) {
  const chart = h('div', { class: 'funnel-chart' });
  const pct = (x) => `${(x * 100).toFixed(1)} %`;
  fill(
    el,
    chart,
    tableOf(
      ['Step', 'Users', 'From first', 'From previous', 'Median time from previous'],
      res.steps.map((s, i) => [`${i + 1}. ${s.event}`, s.users, pct(s.conversionFromFirst), pct(s.conversionFromPrevious), s.medianSecondsFromPrevious === null ? '—' : `${Math.round(s.medianSecondsFromPrevious)} s`]),
    ),
    res.breakdowns ? h('h3', null, 'By breakdown') : null,
    res.breakdowns ? tableOf(['Group', ...res.steps.map((s) => s.event)], res.breakdowns.map((b) => [b.key, ...b.steps.map((s) => s.users)])) : null,
  );
  return barChart(chart, res.steps.map((s) => s.event), [{ label: 'users', values: res.steps.map((s) => s.users) }]);
}

function drawRetention(el, res) {
  const width = Math.max(0, ...res.cohorts.map((c) => c.returned.length));
  const cell = (share) => {
    const td = h('span', { class: 'cell' }, `${(share * 100).toFixed(0)} %`);
    td.style.display = 'block';
    td.style.background = `rgba(59, 91, 219, ${0.1 + share * 0.8})`;
    td.style.color = share > 0.5 ? '#fff' : '#1d232b';
    return td;
  };
  fill(
    el,
    tableOf(
      ['Cohort', 'Users', ...Array.from({ length: width }, (_, i) => `+${i + 1}`)],
      res.cohorts.map((c) => [c.start.slice(0, 10), c.users, ...c.returned.map((r) => cell(r.share))]),
    ),
  );
  return () => {};
}

const DRAW = { trends: drawTrends, funnel: drawFunnel, retention: drawRetention };

async function reportPage(root, ctx, kind, title, controls) {
  const result = h('div', { id: 'report-result' });
  const error = h('p', { class: 'error', id: 'report-error' });
  let destroy = () => {};
  const { el, read } = controls(fromUrl(ctx.query, {}));
  const run = async () => {
    error.textContent = '';
    try {
      const q = read();
      history.replaceState(null, '', `#/${kind}?q=${encodeURIComponent(JSON.stringify(q))}`);
      const res = await api(`/api/insights/${kind}`, { method: 'POST', body: q });
      destroy();
      destroy = DRAW[kind](result, res);
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const form = h('form', { class: 'card', id: 'report-form' }, el, h('div', { class: 'row' }, h('button', { class: 'primary' }, 'Run')), error);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run();
  });
  add(root, h('h2', null, title), form, h('section', { class: 'card' }, result, saveBox(kind, read)));
  if (ctx.query.get('q')) await run();
  return () => destroy();
}

export const trendsPage = (root, ctx) =>
  reportPage(root, ctx, 'trends', 'Trends', (init) => {
    const r = { ...defaultRange(), ...init };
    const event = h('input', { id: 'q-event', value: r.event ?? '', placeholder: 'Event name or $page', required: true });
    const interval = opt(['day', 'hour', 'week'], r.interval ?? 'day', 'q-interval');
    const measure = opt(['events', 'users'], r.measure ?? 'events', 'q-measure');
    const breakdown = h('input', { id: 'q-breakdown', value: r.breakdown ?? '', placeholder: 'properties.plan' });
    const where = h('input', { id: 'q-where', value: r.where ?? '', placeholder: 'FQL, e.g. properties.total > 10', size: 30 });
    const from = dateInput('q-from', r.from);
    const to = dateInput('q-to', r.to);
    return {
      el: h('div', { class: 'row' }, field('Event', event), field('Measure', measure), field('Per', interval), field('Breakdown', breakdown), field('Where', where), field('From', from), field('To', to)),
      read: () => clean({ event: event.value, interval: interval.value, measure: measure.value, breakdown: breakdown.value, where: where.value, from: dateValue(from), to: dateValue(to) }),
    };
  });

export const funnelPage = (root, ctx) =>
  reportPage(root, ctx, 'funnel', 'Funnels', (init) => {
    const r = { ...defaultRange(), within: '7d', steps: [{ event: '' }, { event: '' }], ...init };
    const list = h('div', { id: 'q-steps' });
    const steps = [];
    const addStep = (s = { event: '' }) => {
      const event = h('input', { class: 'q-step', value: s.event, placeholder: `Step ${steps.length + 1} event`, required: true });
      const where = h('input', { class: 'q-step-where', value: s.where ?? '', placeholder: 'where (FQL)', size: 24 });
      steps.push({ event, where });
      list.append(h('div', { class: 'row' }, `${steps.length}.`, event, where));
    };
    r.steps.forEach(addStep);
    const more = h('button', { type: 'button', id: 'add-step' }, '+ step');
    more.addEventListener('click', () => addStep());
    const within = h('input', { id: 'q-within', value: r.within, size: 6 });
    const breakdown = h('input', { id: 'q-breakdown', value: r.breakdown ?? '', placeholder: 'properties.plan' });
    const from = dateInput('q-from', r.from);
    const to = dateInput('q-to', r.to);
    return {
      el: h('div', null, list, more, h('div', { class: 'row' }, field('Within', within), field('Breakdown', breakdown), field('From', from), field('To', to))),
      read: () =>
        clean({
          steps: steps.map((s) => clean({ event: s.event.value, where: s.where.value })),
          within: within.value,
          breakdown: breakdown.value,
          from: dateValue(from),
          to: dateValue(to),
        }),
    };
  });

export const retentionPage = (root, ctx) =>
  reportPage(root, ctx, 'retention', 'Retention', (init) => {
    const r = { ...defaultRange(), interval: 'day', ...init };
    const start = h('input', { id: 'q-start', value: r.startEvent ?? '', placeholder: 'Start event', required: true });
    const ret = h('input', { id: 'q-return', value: r.returnEvent ?? '', placeholder: 'Return event', required: true });
    const interval = opt(['day', 'week'], r.interval, 'q-interval');
    const from = dateInput('q-from', r.from);
    const to = dateInput('q-to', r.to);
    return {
      el: h('div', { class: 'row' }, field('Start', start), field('Return', ret), field('Per', interval), field('From', from), field('To', to)),
      read: () => ({ startEvent: start.value, returnEvent: ret.value, interval: interval.value, from: dateValue(from), to: dateValue(to) }),
    };
  });

/** Saved reports on the dashboard, each run and drawn. */
export async function dashboard(root) {
  const { data } = await api('/api/insights/reports');
  const shown = data.filter((r) => r.dashboard);
  add(root, h('h2', null, 'Dashboard'));
  if (!shown.length) add(root, h('section', { class: 'card' }, h('p', { class: 'muted' }, 'No saved reports yet: run a trend, funnel or retention report and save it.')));
  const cleanups = [];
  for (const r of shown) {
    const body = h('div');
    const remove = h('button', { type: 'button' }, 'Remove');
    remove.addEventListener('click', async () => {
      await api(`/api/insights/reports/${r.id}`, { method: 'DELETE' });
      card.remove();
    });
    const card = h(
      'section',
      { class: 'card report', dataset: { kind: r.kind } },
      h('div', { class: 'row' }, h('h3', null, h('a', { href: `#/${r.kind}?q=${encodeURIComponent(JSON.stringify(r.query))}` }, r.name)), h('span', { class: 'badge' }, r.kind), can('insights:write') ? remove : null),
      body,
    );
    add(root, card);
    try {
      const res = await api(`/api/insights/${r.kind}`, { method: 'POST', body: r.query });
      cleanups.push(DRAW[r.kind](body, res));
    } catch (err) {
      fill(body, h('p', { class: 'error' }, err.message));
    }
  }
  return () => cleanups.forEach((f) => f());
}

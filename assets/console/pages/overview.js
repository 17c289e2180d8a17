// Overview: event volume by source and type, delivery success, top events, what needs attention.
import { api, can } from '../api.js';
import { timeChart } from '../charts.js';
import { add, h, table } from '../dom.js';

export async function render(root, { query, go }) {
  const hours = Number(query.get('hours') ?? 24);
  const [ov, srcs] = await Promise.all([
    api(`/api/insights/overview?hours=${hours}`),
    can('sources:read') ? api('/api/sources') : { data: [] },
  ]);
  const names = new Map(srcs.data.map((s) => [s.id, s.name]));
  const step = ov.bucketMinutes * 60_000;
  const end = Math.floor(Date.now() / step) * step;
  const times = [];
  for (let t = end - hours * 3_600_000; t <= end; t += step) times.push(t);
  const index = new Map(times.map((t, i) => [t, i]));
  const bySeries = new Map();
  for (const v of ov.volume) {
    const key = `${names.get(v.sourceId) ?? v.sourceId} · ${v.type}`;
    const values = bySeries.get(key) ?? bySeries.set(key, times.map(() => 0)).get(key);
    const i = index.get(Date.parse(v.t));
    if (i !== undefined) values[i] += v.count;
  }
  const total = ov.volume.reduce((a, v) => a + v.count, 0);
  const chartEl = h('div', { id: 'volume-chart' });
  const rate = ov.delivery.successRate;
  const a = ov.attention;
  const attention = [
    a.ingestFailures && [`${a.ingestFailures} events the ingest pipeline could not process`, null],
    a.workFailures && [`${a.workFailures} audience updates that failed`, null],
    a.rejectedEvents && [`${a.rejectedEvents} events sent with an unknown, disabled or expired write key`, null],
    ...a.deliveryFailures.map((d) => [`${d.count} dead-lettered deliveries to ${d.destinationId} (last ${new Date(d.lastFailedAt).toLocaleString()})`, `destinations/${d.destinationId}`]),
  ].filter(Boolean);
  add(root, 
    h('h2', null, 'Overview'),
    h(
      'div',
      { class: 'row' },
      [1, 24, 168].map((n) => h('a', { href: `#/overview?hours=${n}`, class: n === hours ? 'badge' : '' }, n === 168 ? 'Last 7 days' : `Last ${n} h`)),
    ),
    h(
      'div',
      { class: 'grid' },
      h('div', { class: 'stat' }, h('b', { id: 'total-events' }, total.toLocaleString()), 'events'),
      h('div', { class: 'stat' }, h('b', { id: 'delivery-rate' }, rate === null ? '—' : `${(rate * 100).toFixed(1)} %`), 'delivery success'),
      h('div', { class: 'stat' }, h('b', null, ov.delivery.retried.toLocaleString()), 'retries'),
      h('div', { class: 'stat' }, h('b', null, attention.length), 'need attention'),
    ),
    h('section', { class: 'card' }, h('h3', null, `Events per ${ov.bucketMinutes === 1 ? 'minute' : 'hour'} by source and type`), chartEl),
    h(
      'div',
      { class: 'cols' },
      h('section', { class: 'card' }, h('h3', null, 'Top events'), table(['Event', 'Type', 'Count'], ov.topEvents.map((e) => [e.event, e.type, e.count]))),
      h(
        'section',
        { class: 'card', id: 'attention' },
        h('h3', null, 'Needs attention'),
        attention.length
          ? h('ul', null, attention.map(([text, link]) => h('li', null, link ? h('a', { href: `#/${link}` }, text) : text)))
          : h('p', { class: 'ok' }, 'Nothing: every event was processed and delivered.'),
      ),
    ),
  );
  const series = [...bySeries].map(([label, values]) => ({ label, values }));
  const destroy = timeChart(chartEl, times, series.length ? series : [{ label: 'events', values: times.map(() => 0) }]);
  void go;
  return destroy;
}

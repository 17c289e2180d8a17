// Archive and replays: a source's Parquet files per received hour (rows, bytes, download) and its
// retention; a replay of a time range to destinations; the replays with a progress bar that moves
// while they run. `#/archive?source=<id>` keeps the chosen source in the URL.
import { api, can } from '../api.js';
import { add, fill, h, progress, table, when } from '../dom.js';

const HOUR = 3_600_000;
const kb = (bytes) => (bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`);
/** `events/source_id=…/date=2026-12-02/hour=03/….parquet` → `2026-12-02 03:00 UTC`. */
const hourOf = (key) => {
  const m = /date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})/.exec(key);
  return m ? `${m[1]} ${m[2]}:00 UTC` : key;
};

/** Sources to pick from: by name with sources:read, else the ids the archive holds files of. */
async function sourcesOf() {
  if (can('sources:read')) return (await api('/api/sources')).data;
  const { data } = await api('/api/archive?limit=1000');
  return [...new Set(data.map((f) => f.sourceId))].map((id) => ({ id, name: id }));
}

export async function render(root, ctx) {
  const sources = await sourcesOf();
  const sourceId = ctx.query.get('source') ?? sources[0]?.id;
  const pick = h('select', { id: 'archive-source' }, sources.map((s) => h('option', { value: s.id, selected: s.id === sourceId }, s.name)));
  pick.addEventListener('change', () => ctx.go(`archive?source=${encodeURIComponent(pick.value)}`));
  add(root, h('h2', null, 'Archive and replays'), h('div', { class: 'row' }, 'Source', pick));
  if (!sourceId) {
    add(root, h('p', { class: 'muted' }, 'No sources yet.'));
    return;
  }
  const q = encodeURIComponent(sourceId);
  const [files, settings, replays, dests] = await Promise.all([
    api(`/api/archive?sourceId=${q}&limit=500`),
    api(`/api/archive/settings/${q}`),
    api(`/api/replays?sourceId=${q}&limit=50`),
    can('destinations:read') ? api('/api/destinations').catch(() => ({ data: [] })) : { data: [] },
  ]);
  const names = new Map(dests.data.map((d) => [d.id, d.name]));
  const hours = new Map();
  for (const f of files.data) {
    const hour = hourOf(f.key);
    const agg = hours.get(hour) ?? { files: [], rows: 0, bytes: 0 };
    agg.files.push(f);
    agg.rows += f.rows;
    agg.bytes += f.bytes;
    hours.set(hour, agg);
  }
  add(
    root,
    h(
      'section',
      { class: 'card', id: 'archive-files' },
      h('h3', null, 'Archived events per hour'),
      h('p', { class: 'muted' }, `Retention: ${settings.archiveRetentionDays === null ? 'kept forever' : `${settings.archiveRetentionDays} days`}`),
      hours.size
        ? table(
            ['Hour received', 'Rows', 'Size', 'Files'],
            [...hours.entries()].map(([hour, a]) => [
              hour,
              a.rows,
              kb(a.bytes),
              a.files.map((f) => h('div', null, h('a', { href: `/api/archive/objects/${f.key.split('/').map(encodeURIComponent).join('/')}`, download: '' }, f.key.slice(f.key.lastIndexOf('/') + 1)), ` ${f.rows} rows, ${when(f.from)} – ${when(f.to)}`)),
            ]),
          )
        : h('p', { class: 'muted' }, 'Nothing archived for this source yet.'),
      files.next ? h('p', { class: 'muted' }, 'More files exist; the newest 500 are shown.') : null,
    ),
  );
  if (can('archive:write')) add(root, replayForm(sourceId, dests.data, ctx));
  const list = h('div');
  add(root, h('section', { class: 'card', id: 'replays' }, h('h3', null, 'Replays'), list));
  return followReplays(list, sourceId, replays.data, names);
}

function replayForm(sourceId, dests, ctx) {
  const live = dests.filter((d) => d.enabled);
  const now = Date.now();
  const from = h('input', { id: 'replay-from', size: 26, value: new Date(now - 24 * HOUR).toISOString() });
  const to = h('input', { id: 'replay-to', size: 26, value: new Date(now + HOUR).toISOString() });
  const names = h('input', { id: 'replay-events', size: 40, placeholder: 'only these events, comma-separated (optional)' });
  const filter = h('input', { id: 'replay-filter', size: 40, placeholder: 'FQL filter (optional)' });
  const picks = live.map((d) => ({ d, box: h('input', { type: 'checkbox', value: d.id, class: 'replay-dest' }) }));
  const error = h('p', { class: 'error', id: 'replay-error' });
  const form = h(
    'form',
    { class: 'card', id: 'replay-form' },
    h('h3', null, 'Replay archived events'),
    h('div', { class: 'row' }, 'From', from, 'to', to),
    h('div', { class: 'row' }, names, filter),
    h('label', null, 'To destinations'),
    picks.length ? picks.map(({ d, box }) => h('div', null, box, ' ', d.name, h('span', { class: 'muted' }, ` (${d.type})`))) : h('p', { class: 'muted' }, 'No enabled destination.'),
    h('div', { class: 'row' }, h('button', { class: 'primary', id: 'replay-start', disabled: !picks.length }, 'Start replay')),
    error,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const eventNames = names.value.split(',').map((s) => s.trim()).filter(Boolean);
    try {
      await api('/api/replays', {
        method: 'POST',
        body: {
          sourceId,
          from: new Date(from.value).toISOString(),
          to: new Date(to.value).toISOString(),
          destinationIds: picks.filter((p) => p.box.checked).map((p) => p.d.id),
          ...(eventNames.length ? { eventNames } : {}),
          ...(filter.value.trim() ? { filter: filter.value.trim() } : {}),
        },
      });
      // The list lives in this page's URL: route again so it shows the new replay and follows it.
      ctx.go(`archive?source=${encodeURIComponent(sourceId)}&t=${Date.now()}`);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

/** Draws the replays and refreshes them every second while one is running. */
function followReplays(list, sourceId, initial, names) {
  const draw = (rows) =>
    fill(
      list,
      rows.length
        ? table(
            ['Started', 'Range', 'Destinations', 'Status', 'Progress', 'Sent', 'Skipped'],
            rows.map((r) => ({
              cells: [
                when(r.createdAt),
                `${when(r.from)} – ${when(r.to)}`,
                r.destinationIds.map((id) => names.get(id) ?? id).join(', '),
                h('span', { class: r.status === 'failed' ? 'error' : r.status === 'done' ? 'ok' : '' }, r.status, r.error ? `: ${r.error}` : ''),
                h('div', null, progress(r.percent), ` ${r.percent} % (${r.scanned} / ${r.total} rows)`),
                r.sent,
                r.skipped,
              ],
              dataset: { replay: r.id, status: r.status },
            })),
          )
        : h('p', { class: 'muted' }, 'No replays yet.'),
    );
  draw(initial);
  let rows = initial;
  const timer = setInterval(async () => {
    if (!rows.some((r) => r.status === 'running')) return;
    const next = await api(`/api/replays?sourceId=${encodeURIComponent(sourceId)}&limit=50`).catch(() => null);
    if (!next) return;
    rows = next.data;
    draw(rows);
  }, 1000);
  return () => clearInterval(timer);
}

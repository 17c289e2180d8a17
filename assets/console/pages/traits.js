// Computed traits: the list with back-fill progress; a builder (count, sum, avg, min, max, first,
// last, most frequent, unique list/count of an event's property, with FQL where and a window)
// with a live preview of the values for real profiles; edit (a new version) and delete.
import { api, can } from '../api.js';
import { add, fill, h, progress, table, when } from '../dom.js';

const TYPES = ['count', 'sum', 'avg', 'min', 'max', 'first', 'last', 'most_frequent', 'unique_list', 'unique_count'];

export async function render(root, ctx) {
  if (ctx.rest[0] === 'new') return builder(root, ctx, null);
  if (ctx.rest[0]) return builder(root, ctx, await api(`/api/computed-traits/${encodeURIComponent(ctx.rest[0])}`));
  const { data } = await api('/api/computed-traits');
  add(
    root,
    h('h2', null, 'Computed traits'),
    can('engage:write') ? h('p', null, h('a', { href: '#/computed-traits/new', id: 'new-trait' }, '+ Build a computed trait')) : null,
    h(
      'section',
      { class: 'card', id: 'traits' },
      data.length
        ? table(
            ['Name', 'Key', 'Type', 'Over', 'Back-fill', 'Updated'],
            data.map((t) => ({
              cells: [
                h('a', { href: `#/computed-traits/${t.key}` }, t.name),
                t.key,
                t.type,
                `${t.property ? `${t.property} of ` : ''}${t.event}${t.where ? ` where ${t.where}` : ''}${t.within ? ` in ${t.within}` : ''}`,
                h('div', null, progress(t.percent ?? 100), ` ${t.status}`),
                when(t.updatedAt),
              ],
              dataset: { trait: t.key },
              onclick: () => ctx.go(`computed-traits/${t.key}`),
            })),
          )
        : h('p', { class: 'muted' }, 'No computed traits yet.'),
    ),
  );
}

async function builder(root, ctx, existing) {
  const writable = can('engage:write');
  const field = (id, props) => h('input', { id, size: 24, ...props });
  const name = field('ct-name', { placeholder: 'Name', value: existing?.name ?? '' });
  const key = field('ct-key', { placeholder: 'key_in_snake_case', value: existing?.key ?? '', disabled: Boolean(existing) });
  const type = h('select', { id: 'ct-type' }, TYPES.map((t) => h('option', { value: t, selected: existing?.type === t }, t)));
  const event = field('ct-event', { placeholder: 'Event name, or * for every event', value: existing?.event ?? '' });
  const property = field('ct-property', { placeholder: 'properties.total', value: existing?.property ?? '' });
  const where = field('ct-where', { placeholder: 'where (FQL), optional', size: 36, value: existing?.where ?? '' });
  const within = field('ct-within', { placeholder: 'within, e.g. 30d (optional)', size: 14, value: existing?.within ?? '' });
  const emit = h('select', { id: 'ct-emit' }, ['identify', 'track'].map((e) => h('option', { value: e, selected: existing?.emit === e }, e)));
  const { data: dests } = await api('/api/destinations').catch(() => ({ data: [] }));
  const picks = dests.map((d) => ({ d, box: h('input', { type: 'checkbox', value: d.id, checked: existing?.destinationIds?.includes(d.id) }) }));
  const preview = h('div', { id: 'ct-preview' }, h('p', { class: 'muted' }, 'Preview: name an event.'));
  const error = h('p', { class: 'error', id: 'ct-error' });
  const propertyRow = h('div', { class: 'row' }, 'of', property);
  const read = () => ({
    key: key.value.trim(),
    name: name.value.trim(),
    type: type.value,
    event: event.value.trim(),
    ...(type.value === 'count' || !property.value.trim() ? {} : { property: property.value.trim() }),
    ...(where.value.trim() ? { where: where.value.trim() } : {}),
    ...(within.value.trim() ? { within: within.value.trim() } : {}),
    emit: emit.value,
    destinationIds: picks.filter((p) => p.box.checked).map((p) => p.d.id),
  });
  let timer;
  const runPreview = async () => {
    const body = read();
    if (!body.event) return fill(preview, h('p', { class: 'muted' }, 'Preview: name an event.'));
    try {
      const r = await api('/api/insights/computed-trait-preview', { method: 'POST', body: { ...body, key: body.key || 'preview_trait', name: body.name || 'Preview' } });
      fill(
        preview,
        h('p', null, h('b', { id: 'ct-matching' }, r.matchingProfiles), ' profiles did this event; values for the first ', r.profiles.length, ':'),
        table(['Profile', 'Events', 'Value'], r.profiles.map((p) => [h('a', { href: `#/profiles/${p.profileId}` }, p.profileId), p.events, JSON.stringify(p.value)])),
        r.caveats.map((c) => h('p', { class: 'muted' }, c)),
      );
      error.textContent = '';
    } catch (err) {
      fill(preview, h('p', { class: 'muted' }, `Preview: ${err.message}`));
    }
  };
  const onChange = () => {
    propertyRow.hidden = type.value === 'count';
    clearTimeout(timer);
    if (can('insights:read')) timer = setTimeout(runPreview, 300);
  };
  for (const el of [name, key, event, property, where, within]) el.addEventListener('input', onChange);
  for (const el of [type, emit]) el.addEventListener('change', onChange);
  const save = h('button', { class: 'primary', id: 'ct-save', disabled: !writable }, existing ? 'Save a new version' : 'Create computed trait');
  const form = h(
    'form',
    { class: 'card', id: 'ct-form' },
    h('div', { class: 'row' }, name, key),
    h('div', { class: 'row' }, type, propertyRow, 'of event', event),
    h('div', { class: 'row' }, where, within),
    h('div', { class: 'row' }, 'Send as', emit, 'to'),
    picks.length ? picks.map(({ d, box }) => h('div', null, box, ' ', d.name)) : h('p', { class: 'muted' }, 'No destinations yet.'),
    h('div', { class: 'row' }, save),
    error,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const t = existing
        ? await api(`/api/computed-traits/${encodeURIComponent(existing.key)}`, { method: 'PUT', body: read() })
        : await api('/api/computed-traits', { method: 'POST', body: read() });
      ctx.go(`computed-traits/${t.key}?saved=${t.version ?? 1}`);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  const remove = existing && writable ? h('button', { type: 'button', id: 'ct-delete' }, 'Delete') : null;
  remove?.addEventListener('click', async () => {
    try {
      await api(`/api/computed-traits/${encodeURIComponent(existing.key)}`, { method: 'DELETE' });
      ctx.go('computed-traits');
    } catch (err) {
      error.textContent = err.message;
    }
  });
  add(
    root,
    h('p', null, h('a', { href: '#/computed-traits' }, '← Computed traits')),
    h('h2', null, existing ? `${existing.name} ` : 'Build a computed trait', existing ? h('span', { class: 'badge' }, existing.key) : null),
    existing ? h('div', { class: 'row', id: 'ct-backfill' }, 'Back-fill', progress(existing.percent ?? 100), ` ${existing.status}`, remove) : null,
    form,
    h('section', { class: 'card' }, h('h3', null, 'Live preview'), preview),
  );
  onChange();
  return () => clearTimeout(timer);
}

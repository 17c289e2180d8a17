// Sources: list and create; a source's write key (copy, rotate with a grace period), its snippet,
// and the live debugger, fed by a WebSocket on the source's LiveTap object (no polling, no reload).
import { api, can } from '../api.js';
import { add, fill, h, json, table, when } from '../dom.js';
import { snippetFor } from '../snippet.js';

export async function render(root, ctx) {
  if (ctx.rest[0]) return detail(root, ctx.rest[0]);
  const { data } = await api('/api/sources');
  const name = h('input', { id: 'source-name', placeholder: 'New source name', required: true });
  const error = h('p', { class: 'error' });
  const form = h('form', { id: 'create-source', class: 'row' }, name, h('button', { class: 'primary' }, 'Create source'), error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const s = await api('/api/sources', { method: 'POST', body: { name: name.value } });
      ctx.go(`sources/${s.id}`);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  add(root, 
    h('h2', null, 'Sources'),
    can('sources:write') ? h('section', { class: 'card' }, form) : null,
    h(
      'section',
      { class: 'card' },
      table(
        ['Name', 'Status', 'Write key', 'Created'],
        data.map((s) => ({
          cells: [h('a', { href: `#/sources/${s.id}`, class: 'source-link' }, s.name), s.enabled ? 'enabled' : 'disabled', h('code', null, `${s.writeKey.slice(0, 8)}…`), when(s.createdAt)],
          onclick: () => ctx.go(`sources/${s.id}`),
        })),
      ),
    ),
  );
}

function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button' }, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text());
      b.textContent = 'Copied';
    } catch {
      b.textContent = 'Select and copy';
    }
    setTimeout(() => (b.textContent = label), 1500);
  });
  return b;
}

async function detail(root, id) {
  let source = await api(`/api/sources/${encodeURIComponent(id)}`);
  const keyBox = h('div', { id: 'write-key' });
  const snippet = h('pre', { id: 'snippet' });
  const drawKey = () => {
    const prev = source.previousWriteKey;
    fill(
      keyBox,
      h('div', { class: 'row' }, 'Write key: ', h('code', { id: 'write-key-value' }, source.writeKey), copyButton(() => source.writeKey)),
      prev ? h('p', { class: 'muted' }, `The previous key still works until ${when(prev.expiresAt)}.`) : null,
    );
    snippet.textContent = snippetFor(location.origin, source.writeKey);
  };
  const grace = h(
    'select',
    { id: 'grace' },
    [['0', 'at once'], ['3600', 'after 1 hour'], ['86400', 'after 24 hours'], ['604800', 'after 7 days']].map(([v, l]) =>
      h('option', { value: v, selected: v === '86400' }, `old key stops ${l}`),
    ),
  );
  const rotate = h('button', { type: 'button', id: 'rotate' }, 'Rotate key');
  rotate.addEventListener('click', async () => {
    source = await api(`/api/sources/${source.id}/rotate-key`, { method: 'POST', body: { graceSeconds: Number(grace.value) } });
    drawKey();
  });
  drawKey();

  const rows = h('tbody', { id: 'events' });
  const inspector = h('div', { id: 'inspector', class: 'muted' }, 'Select an event to see its JSON.');
  const status = h('span', { id: 'live-status', class: 'muted' }, 'connecting…');
  const seen = new Set();
  const addEntries = (entries, atTop) => {
    for (const e of entries) {
      const key = `${e.receivedAt}|${e.event?.messageId ?? ''}|${e.status}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const tr = entryRow(e, inspector);
      if (atTop) rows.prepend(tr);
      else rows.append(tr);
    }
    while (rows.children.length > 100) rows.lastChild.remove();
  };
  // Subscribe first, then read the stored entries: nothing recorded in between is missed (rows are
  // de-duplicated), whatever the order the two answers come in.
  const stop = live(source.id, status, (entries) => addEntries([...entries].reverse(), true));
  try {
    addEntries((await api(`/api/sources/${source.id}/events`)).data, false);
  } catch (err) {
    stop();
    throw err;
  }

  add(root, 
    h('p', null, h('a', { href: '#/sources' }, '← Sources')),
    h('h2', { id: 'title' }, `Source: ${source.name}`),
    h(
      'section',
      { class: 'card' },
      keyBox,
      can('sources:write') ? h('div', { class: 'row' }, grace, rotate) : null,
      h('details', null, h('summary', null, 'Snippet for your site'), h('div', { class: 'row' }, copyButton(() => snippet.textContent, 'Copy snippet')), snippet),
    ),
    h(
      'div',
      { class: 'cols' },
      h(
        'section',
        { class: 'card' },
        h('h3', null, 'Live debugger ', status),
        h('table', null, h('thead', null, h('tr', null, ['Received', 'Type', 'Event', 'Status'].map((x) => h('th', null, x)))), rows),
      ),
      h('section', { class: 'card' }, h('h3', null, 'Event'), inspector),
    ),
  );
  return stop;
}

function entryRow(e, inspector) {
  const ev = e.event ?? {};
  const statusCell = h('td', { class: e.status === 'accepted' ? '' : 'rejected' }, e.status, e.writeKey === 'previous' ? ' (previous write key)' : '');
  if (e.error) statusCell.append(h('div', null, e.error.message));
  if (e.violations?.length) {
    statusCell.append(h('ul', { class: 'violations' }, e.violations.map((v) => h('li', null, `${v.type} ${v.field}: ${v.description}`))));
  }
  const tr = h('tr', { class: 'clickable', dataset: { status: e.status } }, h('td', null, when(e.receivedAt)), h('td', null, ev.type ?? ''), h('td', { class: 'event-name' }, ev.event ?? ev.name ?? ev.userId ?? ''), statusCell);
  tr.addEventListener('click', () =>
    fill(
      inspector,
      e.status !== 'accepted' ? h('p', { class: 'rejected' }, `${e.status}: ${e.error?.message ?? 'see the violations'}`) : null,
      e.violations?.length ? h('ul', { class: 'violations' }, e.violations.map((v) => h('li', null, `${v.type} ${v.field}: ${v.description}`))) : null,
      json(ev),
    ),
  );
  return tr;
}

/** Subscribes to the source's live tap; reconnects after a drop. Returns the cleanup. */
function live(sourceId, status, onEntries) {
  let ws;
  let closed = false;
  let retry;
  const connect = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/api/sources/${encodeURIComponent(sourceId)}/live`);
    ws.addEventListener('open', () => {
      status.textContent = 'live';
      status.className = 'ok';
    });
    ws.addEventListener('message', (m) => {
      try {
        onEntries(JSON.parse(m.data).entries ?? []);
      } catch {}
    });
    ws.addEventListener('close', () => {
      if (closed) return;
      status.textContent = 'reconnecting…';
      status.className = 'muted';
      retry = setTimeout(connect, 2000);
    });
  };
  connect();
  return () => {
    closed = true;
    clearTimeout(retry);
    ws?.close();
  };
}

// The one way the console builds DOM: elements with properties, and children that are nodes or
// text. Strings always become text nodes (never HTML), so a value from an event cannot add markup.

/** Creates `<tag>` with props (`on*` functions become listeners) and children. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') el[k] = v;
    else el.setAttribute(k, String(v));
  }
  add(el, children);
  return el;
}

/** Appends children (nested arrays too): nodes as they are, null/false skipped, anything else as text. */
export function add(el, ...children) {
  for (const c of [children].flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's content. */
export const fill = (el, ...children) => {
  el.replaceChildren();
  return add(el, ...children);
};

/** A table with a header row; `rows` are arrays of cells (or `{ cells, onclick, class }`). */
export function table(headers, rows) {
  return h(
    'table',
    null,
    h('thead', null, h('tr', null, headers.map((x) => h('th', null, x)))),
    h(
      'tbody',
      null,
      rows.map((r) => {
        const spec = Array.isArray(r) ? { cells: r } : r;
        return h(
          'tr',
          { class: spec.class ?? (spec.onclick ? 'clickable' : undefined), onclick: spec.onclick, dataset: spec.dataset },
          spec.cells.map((c) => h('td', null, c)),
        );
      }),
    ),
  );
}

/** A progress bar at `percent`. */
export const progress = (percent) => {
  const bar = h('div');
  bar.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return h('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': Math.round(percent) }, bar);
};

/** JSON shown as text. */
export const json = (value) => h('pre', null, JSON.stringify(value, null, 2));

/** Formats an ISO time for people. */
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

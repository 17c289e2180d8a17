// The identity graph of a profile, drawn as SVG: the profile in the middle, its identifiers around
// it (labelled with the event that linked each), and profiles merged into it on an outer ring.
// Labels are SVG text nodes set with textContent.
const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const COLORS = { user_id: '#3b5bdb', anonymous_id: '#868e96', email: '#2f9e44', phone: '#f08c00' };

/** Draws `profile` (GET /api/profiles/:id) into a new <svg>. */
export function identityGraph(profile) {
  const W = 900;
  const H = 360;
  const cx = W / 2;
  const cy = H / 2;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Identity graph', id: 'identity-graph' });
  const edges = svg('g', {});
  const nodes = svg('g', {});
  root.append(edges, nodes);
  const node = (x, y, r, color, label, sub, cls) => {
    const g = svg('g', { class: cls });
    g.append(svg('circle', { cx: x, cy: y, r, fill: color, opacity: 0.9 }));
    g.append(svg('text', { x, y: y + r + 12, 'text-anchor': 'middle' }, label.length > 36 ? `${label.slice(0, 35)}…` : label));
    if (sub) g.append(svg('text', { x, y: y + r + 24, 'text-anchor': 'middle', fill: '#667085' }, sub));
    nodes.append(g);
  };
  node(cx, cy, 18, '#1d232b', `profile ${profile.id}`, `${profile.eventCount ?? 0} events`, 'graph-profile');
  const ids = profile.identifiers ?? [];
  ids.forEach((id, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, ids.length) - Math.PI / 2;
    const x = cx + Math.cos(a) * 260;
    const y = cy + Math.sin(a) * 130;
    edges.append(svg('line', { x1: cx, y1: cy, x2: x, y2: y, stroke: '#adb5bd' }));
    // The linking event's label sits nearer the identifier, clear of the profile's own label.
    const mx = cx + (x - cx) * 0.68;
    const my = cy + (y - cy) * 0.68;
    if (id.firstMessageId) edges.append(svg('text', { x: mx, y: my - 3, 'text-anchor': 'middle', fill: '#98a2b3' }, `via ${id.firstMessageId.slice(0, 14)}`));
    node(x, y, 10, COLORS[id.kind] ?? '#7048e8', `${id.kind}: ${id.value}`, null, 'graph-identifier');
  });
  const merges = profile.merges ?? [];
  merges.forEach((m, i) => {
    const a = (2 * Math.PI * (i + 0.5)) / Math.max(1, merges.length) - Math.PI / 2;
    const x = cx + Math.cos(a) * 120;
    const y = cy + Math.sin(a) * 70;
    edges.append(svg('line', { x1: cx, y1: cy, x2: x, y2: y, stroke: '#e03131', 'stroke-dasharray': '4 3' }));
    node(x, y, 8, '#e03131', `merged ${m.profileId}`, m.reason, 'graph-merge');
  });
  return root;
}

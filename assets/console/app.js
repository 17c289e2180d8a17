// The console's shell: sign-in, navigation filtered by the token's scopes, and hash routing
// (`#/sources/<id>`), so every page has its own URL and the browser's back button works.
import { can, loadSession, signIn, signOut } from './api.js';
import { add, fill, h } from './dom.js';
import * as archive from './pages/archive.js';
import * as audit from './pages/audit.js';
import * as audiences from './pages/audiences.js';
import * as destinations from './pages/destinations.js';
import * as functions from './pages/functions.js';
import * as insights from './pages/insights.js';
import * as overview from './pages/overview.js';
import * as privacy from './pages/privacy.js';
import * as profiles from './pages/profiles.js';
import * as sources from './pages/sources.js';
import * as tokens from './pages/tokens.js';
import * as trackingPlans from './pages/tracking-plans.js';
import * as traits from './pages/traits.js';

/** Navigation: [section, [label, path, scope, render]]; a page shows when the token holds its scope. */
const NAV = [
  ['Connections', [
    ['Overview', 'overview', 'insights:read', overview.render],
    ['Sources', 'sources', 'sources:read', sources.render],
    ['Destinations', 'destinations', 'destinations:read', destinations.render],
  ]],
  ['Unify & Engage', [
    ['Profiles', 'profiles', 'profiles:read', profiles.render],
    ['Audiences', 'audiences', 'engage:read', audiences.render],
    ['Computed traits', 'computed-traits', 'engage:read', traits.render],
  ]],
  ['Insights', [
    ['Dashboard', 'dashboard', 'insights:read', insights.dashboard],
    ['Trends', 'trends', 'insights:read', insights.trendsPage],
    ['Funnels', 'funnel', 'insights:read', insights.funnelPage],
    ['Retention', 'retention', 'insights:read', insights.retentionPage],
  ]],
  ['Govern', [
    ['Tracking plans', 'tracking-plans', 'governance:read', trackingPlans.render],
    ['Privacy requests', 'privacy', 'privacy:write', privacy.render],
    ['Tokens', 'tokens', 'tokens:write', tokens.render],
    ['Audit log', 'audit', 'audit:read', audit.render],
    ['Functions', 'functions', 'functions:read', functions.render],
    ['Archive and replays', 'archive', 'archive:read', archive.render],
  ]],
];
const PAGES = new Map(NAV.flatMap(([, items]) => items.map(([label, path, scope, render]) => [path, { label, scope, render }])));

const view = document.getElementById('view');
const nav = document.getElementById('nav');
let cleanup = null;

/** `#/sources/abc?x=1` → { page: 'sources', rest: ['abc'], query }. */
export function parseHash(hash = location.hash) {
  const [path, qs] = hash.replace(/^#\/?/, '').split('?');
  const [page, ...rest] = path.split('/').map((p) => decodeURIComponent(p));
  return { page: page || 'overview', rest, query: new URLSearchParams(qs ?? '') };
}

/** Goes to a console URL (a history entry, so Back returns). */
export const go = (path) => {
  location.hash = `#/${path}`;
};

function drawNav(current) {
  fill(
    nav,
    NAV.map(([section, items]) => {
      const visible = items.filter(([, , scope]) => can(scope));
      if (!visible.length) return null;
      return [
        h('h3', null, section),
        visible.map(([label, path, , render]) =>
          h('a', { href: `#/${path}`, class: [path === current ? 'active' : '', render.later ? 'later' : ''].join(' ').trim() }, label),
        ),
      ];
    }),
  );
}

async function route() {
  if (cleanup) {
    try {
      cleanup();
    } catch {}
    cleanup = null;
  }
  const { page, rest, query } = parseHash();
  const first = [...PAGES.entries()].find(([, p]) => can(p.scope));
  const target = PAGES.get(page);
  if (!target || !can(target.scope)) {
    if (first && page !== first[0]) return go(first[0]);
    fill(view, h('section', { class: 'card' }, h('h2', null, 'Nothing to show'), h('p', null, 'This token has no scope the console can show.')));
    return;
  }
  drawNav(page);
  document.title = `${target.label} · Tessera`;
  const root = h('div', { id: `page-${page}` });
  fill(view, root);
  try {
    cleanup = (await target.render(root, { rest, query, go })) ?? null;
  } catch (err) {
    add(root, h('p', { class: 'error', role: 'alert' }, `Could not load this page: ${err.message}`));
  }
}

function showSignIn() {
  nav.hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('who').textContent = '';
  const card = document.getElementById('signin') ?? signInCard();
  fill(view, card);
  card.hidden = false;
}

function signInCard() {
  const input = h('input', { id: 'token', type: 'password', placeholder: 'API token', size: 48, autocomplete: 'off', required: true });
  const error = h('p', { id: 'login-error', class: 'error' });
  const form = h('form', { id: 'login' }, input, ' ', h('button', null, 'Sign in'));
  form.addEventListener('submit', onSubmit);
  return h('section', { id: 'signin', class: 'card' }, h('h2', null, 'Sign in'), form, error);
}

async function onSubmit(ev) {
  ev.preventDefault();
  const input = document.getElementById('token');
  try {
    const s = await signIn(input.value);
    input.value = '';
    start(s);
  } catch (err) {
    document.getElementById('login-error').textContent = err.message;
  }
}

let started = false;
function start(session) {
  nav.hidden = false;
  document.getElementById('signout').hidden = false;
  document.getElementById('who').textContent = session?.name ?? '';
  if (!started) {
    window.addEventListener('hashchange', route);
    started = true;
  }
  route();
}

document.getElementById('login').addEventListener('submit', onSubmit);
document.getElementById('signout').addEventListener('click', async () => {
  await signOut().catch(() => {});
  location.hash = '';
  showSignIn();
});

loadSession().then((s) => (s ? start(s) : showSignIn()), (err) => fill(view, h('p', { class: 'error' }, err.message)));

// API tokens: the list; a new token with a name, scopes (the API's own list, those the signed-in
// token cannot grant disabled) and an optional expiry, its secret shown once with a copy button;
// revoke after an in-page confirm (a native dialog would block the page).
import { api, can } from '../api.js';
import { add, fill, h, table, when } from '../dom.js';

export async function render(root) {
  const list = h('section', { class: 'card', id: 'tokens' });
  const reveal = h('div', { id: 'token-reveal' });
  const redraw = async () => drawList(list, (await api('/api/tokens')).data, redraw);
  add(root, h('h2', null, 'API tokens'), can('tokens:write') ? [await createForm(reveal, redraw), reveal] : null, list);
  await redraw();
}

function drawList(box, tokens, redraw) {
  const rows = tokens.map((t) => ({
    cells: [t.name, h('code', null, t.prefix), t.scopes.join(', '), when(t.createdAt), when(t.lastUsedAt), when(t.expiresAt), t.revokedAt ? h('span', { class: 'error' }, `revoked ${when(t.revokedAt)}`) : h('span', { class: 'ok' }, 'active'), t.revokedAt ? '' : revokeButton(t, redraw)],
    dataset: { token: t.id },
  }));
  fill(box, h('h3', null, 'Tokens'), table(['Name', 'Prefix', 'Scopes', 'Created', 'Last used', 'Expires', 'Status', ''], rows));
}

function revokeButton(t, redraw) {
  const cell = h('span');
  const ask = () =>
    fill(
      cell,
      h('span', null, `Revoke "${t.name}"? It stops working at once. `),
      h('button', { type: 'button', class: 'token-confirm-revoke primary', onclick: revoke }, 'Revoke'),
      ' ',
      h('button', { type: 'button', onclick: reset }, 'Cancel'),
    );
  const reset = () => fill(cell, h('button', { type: 'button', class: 'token-revoke', onclick: ask }, 'Revoke…'));
  async function revoke() {
    try {
      await api(`/api/tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' });
      await redraw();
    } catch (err) {
      add(cell, h('span', { class: 'error' }, ` ${err.message}`));
    }
  }
  reset();
  return cell;
}

async function createForm(reveal, redraw) {
  const { data: scopes } = await api('/api/tokens/scopes');
  const name = h('input', { id: 'token-name', placeholder: 'Name, e.g. CI deploys', size: 40, required: true });
  const expires = h('input', { id: 'token-expires', type: 'datetime-local' });
  const boxes = scopes.map((s) => h('input', { type: 'checkbox', class: 'token-scope', value: s.scope, disabled: !s.grantable }));
  const error = h('p', { class: 'error', id: 'token-error' });
  const form = h(
    'form',
    { class: 'card', id: 'token-form' },
    h('h3', null, 'New token'),
    h('div', { class: 'row' }, name),
    h('label', null, 'Scopes'),
    h('div', { class: 'row', id: 'token-scopes' }, boxes.map((b) => h('label', { class: 'inline' }, b, ` ${b.value}`))),
    h('label', { for: 'token-expires' }, 'Expires (optional; never when empty)'),
    h('div', { class: 'row' }, expires, h('button', { class: 'primary', id: 'token-create' }, 'Create token')),
    error,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const picked = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!picked.length) {
      error.textContent = 'Pick at least one scope.';
      return;
    }
    try {
      const body = { name: name.value, scopes: picked, ...(expires.value ? { expiresAt: new Date(expires.value).toISOString() } : {}) };
      const made = await api('/api/tokens', { method: 'POST', body });
      showOnce(reveal, made);
      form.reset();
      await redraw();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

/** The secret, this once: it is not stored in the page's state and no API call returns it again. */
function showOnce(reveal, made) {
  const code = h('code', { id: 'new-token' }, made.token);
  const note = h('span', { id: 'token-copied' });
  const copy = h('button', { type: 'button', id: 'token-copy' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(made.token);
      note.textContent = 'Copied.';
    } catch {
      getSelection()?.selectAllChildren(code);
      note.textContent = 'Selected: copy it with Ctrl+C.';
    }
  });
  fill(
    reveal,
    h(
      'section',
      { class: 'card', id: 'token-secret' },
      h('h3', null, `Token "${made.name}" created`),
      h('p', null, 'Copy it now: it is shown only this once.'),
      h('div', { class: 'row' }, code, copy, note, h('button', { type: 'button', onclick: () => fill(reveal) }, 'Done')),
    ),
  );
}

// Privacy requests (Segment's regulations): create one (suppress, unsuppress, delete inside
// Tessera and/or at destinations), the list with status and progress, one regulation's stages as
// they run, and who is suppressed with the events dropped for them. All of it needs privacy:write.
import { api, can } from '../api.js';
import { add, fill, h, progress, table, when } from '../dom.js';

const TYPES = [
  ['SUPPRESS_WITH_DELETE', 'Suppress and delete (Tessera and destinations)'],
  ['SUPPRESS_WITH_DELETE_INTERNAL', 'Suppress and delete in Tessera'],
  ['SUPPRESS_ONLY', 'Suppress new data only'],
  ['UNSUPPRESS', 'Lift a suppression'],
  ['DELETE_INTERNAL', 'Delete in Tessera'],
  ['DELETE_ONLY', 'Delete (Tessera and destinations)'],
];
const SUBJECTS = ['USER_ID', 'ANONYMOUS_ID', 'EMAIL', 'PHONE'];
const running = (status) => status === 'INITIALIZED' || status === 'RUNNING';

/** Share of a regulation's stages that have ended (finished, skipped, failed). */
const stagePercent = (stages) =>
  stages.length ? (100 * stages.filter((s) => s.status !== 'PENDING' && s.status !== 'RUNNING').length) / stages.length : 100;

export async function render(root, ctx) {
  if (ctx.rest[0]) return detail(root, ctx.rest[0]);
  const [regs, sup] = await Promise.all([api('/api/regulations?count=100'), api('/api/suppressions?count=100')]);
  const list = regs.data.regulations;
  add(
    root,
    h('h2', null, 'Privacy requests'),
    can('privacy:write') ? createForm(ctx) : null,
    h(
      'section',
      { class: 'card', id: 'regulations' },
      h('h3', null, 'Regulations'),
      list.length
        ? table(
            ['Created', 'Type', 'Subjects', 'Status', 'Progress', 'Finished'],
            list.map((r) => ({
              cells: [
                h('a', { href: `#/privacy/${r.id}` }, when(r.createdAt)),
                r.regulationType,
                `${r.subjectType}: ${r.subjectIds.slice(0, 3).join(', ')}${r.subjectIds.length > 3 ? ` +${r.subjectIds.length - 3}` : ''}`,
                h('span', { class: r.overallStatus === 'FAILED' ? 'error' : r.overallStatus === 'FINISHED' ? 'ok' : '' }, r.overallStatus),
                progress(stagePercent(r.stages)),
                when(r.finishedAt),
              ],
              dataset: { regulation: r.id },
              onclick: () => ctx.go(`privacy/${r.id}`),
            })),
          )
        : h('p', { class: 'muted' }, 'No regulations yet.'),
    ),
    h(
      'section',
      { class: 'card', id: 'suppressions' },
      h('h3', null, 'Suppressed people'),
      sup.data.suppressions.length
        ? table(
            ['Since', 'Regulation', 'Subjects', 'Identifiers dropped at ingest'],
            sup.data.suppressions.map((s) => [when(s.createdAt), h('a', { href: `#/privacy/${s.regulateId}` }, s.regulationType), `${s.subjectType}: ${s.subjectIds.join(', ')}`, s.identifiers]),
          )
        : h('p', { class: 'muted' }, 'Nobody is suppressed.'),
      sup.data.droppedEvents.length
        ? [h('h3', null, 'Events dropped for suppressed people'), table(['Day', 'Source', 'Events'], sup.data.droppedEvents.map((d) => [d.day, d.sourceId, d.events]))]
        : null,
    ),
  );
}

function createForm(ctx) {
  const type = h('select', { id: 'reg-type' }, TYPES.map(([v, label]) => h('option', { value: v }, `${label} (${v})`)));
  const subject = h('select', { id: 'reg-subject' }, SUBJECTS.map((v) => h('option', { value: v }, v)));
  const ids = h('textarea', { id: 'reg-ids', rows: 3, placeholder: 'One subject id per line' });
  const error = h('p', { class: 'error', id: 'reg-error' });
  const form = h(
    'form',
    { class: 'card', id: 'reg-form' },
    h('h3', null, 'New regulation'),
    h('div', { class: 'row' }, type, subject),
    h('label', { for: 'reg-ids' }, 'Subjects'),
    ids,
    h('div', { class: 'row' }, h('button', { class: 'primary', id: 'reg-create' }, 'Create regulation')),
    error,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const subjectIds = ids.value.split('\n').map((s) => s.trim()).filter(Boolean);
    try {
      const r = await api('/api/regulations', { method: 'POST', body: { regulationType: type.value, subjectType: subject.value, subjectIds } });
      ctx.go(`privacy/${r.data.regulateId}`);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

async function detail(root, id) {
  const box = h('div', { id: 'regulation' });
  add(root, h('p', null, h('a', { href: '#/privacy' }, '← Privacy requests')), box);
  const draw = (r) =>
    fill(
      box,
      h('h2', null, `${r.regulationType} `, h('span', { class: 'badge', id: 'reg-status' }, r.overallStatus)),
      h('div', { class: 'row' }, progress(stagePercent(r.stages)), h('span', { class: 'muted' }, `created ${when(r.createdAt)}, finished ${when(r.finishedAt)}`)),
      h('section', { class: 'card' }, h('h3', null, 'Subjects'), h('p', null, `${r.subjectType}: ${r.subjectIds.join(', ')}`)),
      h(
        'section',
        { class: 'card', id: 'stages' },
        h('h3', null, 'Stages'),
        table(
          ['Stage', 'Status', 'Progress', 'Error', 'Finished'],
          r.stages.map((s) => [
            s.name,
            s.status,
            s.total ? h('div', null, progress((100 * (s.done ?? 0)) / s.total), ` ${s.done ?? 0} / ${s.total}`) : '—',
            s.error ?? '',
            when(s.finishedAt),
          ]),
        ),
      ),
    );
  let r = (await api(`/api/regulations/${encodeURIComponent(id)}`)).data.regulation;
  draw(r);
  // A running regulation: follow its stages until it ends.
  const timer = setInterval(async () => {
    if (!running(r.overallStatus)) return clearInterval(timer);
    const now = await api(`/api/regulations/${encodeURIComponent(id)}`).catch(() => null);
    if (!now) return;
    r = now.data.regulation;
    draw(r);
  }, 1000);
  return () => clearInterval(timer);
}

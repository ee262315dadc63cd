// Antrian: today's jobs with their state, printer, attempts and estimate; the day's progress toward
// capacity; filters; and the operator's actions (cancel, hold, release, resolve, reprint).
import { handoverAction } from './chips.js';
import { api, errorText } from './api.js';
import { confirmDialog, openDialog } from './dialogs.js';
import { announce, h, replaceChildren } from './dom.js';
import { config, fmtNum, fmtTime, has, t } from './i18n.js';
import { restoreRowFocus } from './rowfocus.js';
import { matchesSearch, searchActive } from './search.js';
import { offChange, onChange, state, upsertJob } from './state.js';

const ORDER = { in_doubt: 0, printing: 1, queued: 2, held: 3, failed: 4, printed: 5, canceled: 6 };
const CAN_ACT = new Set(['operator', 'admin']);
let filter = '';
// rows drawn at once: a backlog of thousands is drawn a page at a time ("show more")
const PAGE_ROWS = 200;
let rowsShown = PAGE_ROWS;

export function printedToday() {
  let n = 0;
  for (const p of state.printers.values()) n += (p.counters && p.counters.today) || 0;
  return n;
}

// A card in doubt may still be inside a printer that is moving: looking at the output tray before it
// stops, an operator could answer "not fed" for a card that is about to come out, and it would print
// twice. Say so while the printer is printing, or when the station cannot see it (offline).
function showPrinterMoving(dialog, job) {
  const printer = state.printers.get(job.printer);
  const warn = dialog.querySelector('.dlg-warn');
  const key = !printer ? null
    : printer.state === 'printing' ? 'resolve.wait_printing'
      : printer.state === 'offline' ? 'resolve.wait_offline' : null;
  warn.hidden = !key;
  warn.textContent = key ? t(key, { printer: job.printer }) : '';
}

function sorted(jobs) {
  return jobs.sort((a, b) => {
    const byState = ORDER[a.state] - ORDER[b.state];
    if (byState) return byState;
    if (a.state === 'queued') return (a.position || 1e9) - (b.position || 1e9);
    if (a.state === 'printed' || a.state === 'canceled' || a.state === 'failed') {
      return a.updated_at < b.updated_at ? 1 : -1;   // newest first
    }
    return a.created_at < b.created_at ? -1 : 1;
  });
}

// "spoiled:media-jam" -> "Kartu rusak (kartu macet), dicetak lagi"
export function stateReasonText(reason) {
  if (!reason) return '';
  const [kind, detail] = reason.split(':', 2);
  const detailText = detail ? (has(`reason.${detail}`) ? t(`reason.${detail}`) : (has(`jobreason.${detail}`) ? t(`jobreason.${detail}`) : detail)) : '';
  if (detail && has(`jobreason.${kind}`)) return t(`jobreason.${kind}`, { detail: detailText });
  if (has(`jobreason.${reason}`)) return t(`jobreason.${reason}`);
  if (has(`reason.${reason}`)) return t(`reason.${reason}`);
  return reason;
}

function act(job, action, body) {
  return api('POST', `/api/v1/jobs/${encodeURIComponent(job.id)}/${action}`, body).then((updated) => {
    upsertJob(updated);
    announce(t(`queue.done.${action}`, { name: job.name || job.nik_masked }));
    return updated;
  });
}

function actionButton(job, action, onClick, primary = false) {
  const label = t(`queue.action.${action}`);
  return h('button', {
    type: 'button', class: primary ? 'small primary' : 'small', 'data-key': `job:${job.id}:${action}`,
    'data-action': action, 'aria-label': t('queue.action_for', { action: label, name: job.name || job.nik_masked }),
    onclick: onClick,
  }, label);
}

function immediate(job, action) {
  return async () => {
    try { await act(job, action); } catch (e) { announce(errorText(e)); alertError(e); }
  };
}

function alertError(e) {
  const msg = document.getElementById('queue-summary');
  msg.textContent = errorText(e);
  msg.classList.add('error-text');
  setTimeout(() => msg.classList.remove('error-text'), 8000);
}

function jobLabel(job) {
  return `${job.name || '—'} · ${job.nik_masked} · ${t(`card_type.${job.card_type}`)}`;
}

function actions(job) {
  if (!CAN_ACT.has(config.role)) return [];
  const out = [];
  const cancel = actionButton(job, 'cancel', () => confirmDialog({
    title: t('cancel.heading'), text: t('cancel.text', { job: jobLabel(job) }), ok: t('queue.action.cancel'),
    action: () => act(job, 'cancel'),
  }));
  switch (job.state) {
    case 'queued':
      out.push(actionButton(job, 'hold', immediate(job, 'hold')), cancel);
      break;
    case 'held':
      out.push(actionButton(job, 'release', immediate(job, 'release')), cancel);
      break;
    case 'printing':
      if (job.state_reason !== 'cancel-requested') out.push(cancel);
      break;
    case 'in_doubt':
      out.push(actionButton(job, 'resolve', () => openDialog('dlg-resolve', {
        setup: (d) => {
          d.querySelector('.dlg-job').textContent = jobLabel(job);
          // kept current while the dialog is open: the warning goes when the printer stops moving
          const refresh = () => showPrinterMoving(d, job);
          refresh();
          onChange(refresh);
          d.addEventListener('close', () => offChange(refresh), { once: true });
          // a spoiled blank is booked under the ministry's category: ask for it only then
          const wrap = d.querySelector('#resolve-category-wrap');
          wrap.hidden = true;
          d.querySelector('form').onchange = (ev) => {
            if (ev.target.name === 'outcome') wrap.hidden = ev.target.value !== 'spoiled';
          };
        },
        submit: (form) => act(job, 'resolve', {
          outcome: form.get('outcome'), note: form.get('note') || null,
          ...(form.get('outcome') === 'spoiled' ? { category: form.get('category') } : {}),
        }),
      }), true));
      break;
    case 'printed': {
      const handover = handoverAction(job, actionButton, jobLabel);
      if (handover) out.push(handover);
      out.push(actionButton(job, 'reprint', () => openDialog('dlg-reprint', {
        setup: (d) => { d.querySelector('.dlg-job').textContent = jobLabel(job); },
        submit: (form) => act(job, 'reprint', { reason: form.get('reason'), category: form.get('category') }),
      })));
      break;
    }
    default:
      break;
  }
  return out;
}

function attemptsCell(job) {
  const n = job.attempts.length;
  const last = job.attempts[n - 1];
  const bad = job.attempts.filter((a) => a.outcome === 'spoiled' || a.outcome === 'not_fed' || a.outcome === 'in_doubt');
  const title = job.attempts.map((a) => `#${a.n} ${a.printer}: ${t(`outcome.${a.outcome}`)}${a.reason ? ` (${stateReasonText(a.reason)})` : ''}`).join('\n');
  // a spoiled blank is what the operator must know about (it goes to the rusak ledger), even when a later
  // attempt was only "not fed" while the printer was still jammed
  const spoiled = job.attempts.filter((a) => a.outcome === 'spoiled').length;
  const shown = spoiled ? `${t('outcome.spoiled')}${spoiled > 1 ? ` ×${spoiled}` : ''}` : (last ? t(`outcome.${last.outcome}`) : '');
  return h('td', { class: 'num col-optional', title: title || null },
    fmtNum(n), bad.length && last ? h('span', { class: 'sub', dataset: { attempts: 'outcome' } }, ` ${shown}`) : null);
}

function estimateCell(job) {
  if (job.state === 'printed') return h('td', {}, t('queue.printed_at', { time: fmtTime(job.printed_at) }));
  if ((job.state === 'queued' || job.state === 'printing') && job.estimated_done_at) {
    return h('td', {}, t('queue.estimate', { time: fmtTime(job.estimated_done_at) }));
  }
  // a queued job that cannot start: say why it waits instead of an estimate
  if (job.state === 'queued' && ['no-blanks', 'no-fit-printer', 'rationed', 'quota_exceeded'].includes(job.state_reason)) {
    return h('td', { class: 'warn-text' }, t(`jobreason.${job.state_reason}`));
  }
  return h('td', {}, '—');
}

function row(job) {
  const reason = stateReasonText(job.state_reason);
  return h('tr', { dataset: { jobId: job.id, state: job.state }, class: `job state-${job.state}` },
    h('td', { class: 'col-optional' }, fmtTime(job.created_at)),
    h('td', { class: 'name' }, job.name || '—',
      job.priority === 'urgent' ? h('span', { class: 'badge urgent' }, t('priority.urgent')) : null),
    h('td', { class: 'mono' }, job.nik_masked),
    h('td', { class: 'col-optional' }, t(`card_type.${job.card_type}`)),
    h('td', {},
      h('span', { class: `pill state-${job.state}` }, t(`state.job.${job.state}`)),
      job.state === 'queued' && job.position ? h('span', { class: 'sub' }, ` ${t('queue.position', { n: job.position })}`) : null,
      reason ? h('div', { class: 'sub' }, reason) : null),
    h('td', {}, job.printer || '—'),
    attemptsCell(job),
    estimateCell(job),
    h('td', { class: 'actions' }, actions(job)));
}

export function renderQueue() {
  const cap = config.daily_capacity;
  const done = printedToday();
  const bar = document.getElementById('cap-bar');
  bar.max = cap;
  bar.value = Math.min(done, cap);
  bar.setAttribute('aria-valuetext', t('queue.capacity_value', { done, cap }));
  document.getElementById('cap-text').textContent = `${fmtNum(done)} / ${fmtNum(cap)}`;
  document.getElementById('cap-text').classList.toggle('over', done >= cap);

  const all = [...state.jobs.values()];
  const counts = {};
  for (const j of all) counts[j.state] = (counts[j.state] || 0) + 1;
  for (const opt of document.querySelectorAll('#state-filter option[value]:not([value=""])')) {
    opt.textContent = `${opt.dataset.label} (${counts[opt.value] || 0})`;
  }
  // the server's count: the page holds only the head of a long queue
  if (state.queuedTotal !== null) counts.queued = Math.max(state.queuedTotal, 0);
  for (const opt of document.querySelectorAll('#state-filter option[value="queued"]')) {
    opt.textContent = `${opt.dataset.label} (${counts.queued || 0})`;
  }
  const open = (counts.queued || 0) + (counts.printing || 0) + (counts.in_doubt || 0) + (counts.held || 0);
  document.getElementById('tab-queue-count').textContent = open ? `(${open})` : '';
  const summary = document.getElementById('queue-summary');
  if (!summary.classList.contains('error-text')) {
    summary.textContent = t('queue.summary', {
      queued: counts.queued || 0, printing: counts.printing || 0, printed: counts.printed || 0,
    });
  }
  const shown = sorted(all.filter((j) => (!filter || j.state === filter) && matchesSearch(j)));
  replaceChildren(document.getElementById('jobs-body'), shown.slice(0, rowsShown).map(row));
  restoreRowFocus();
  const empty = document.getElementById('jobs-empty');
  empty.hidden = shown.length > 0;
  empty.textContent = t(searchActive() ? 'queue.search_none' : 'queue.empty');
  // jobs of a long queue beyond the loaded head are counted, not loaded (a search sees loaded ones)
  const notLoaded = !searchActive() && (filter === 'queued' || !filter)
    ? (counts.queued || 0) - shown.filter((j) => j.state === 'queued').length : 0;
  renderMore(shown.length, notLoaded);
}

// "Showing 200 of 20,000" under the table, with a button for the next page of rows
function renderMore(loaded, notLoaded) {
  let more = document.getElementById('jobs-more');
  if (!more) {
    more = h('p', { id: 'jobs-more', class: 'muted' });
    document.getElementById('jobs-empty').after(more);
  }
  const total = loaded + Math.max(notLoaded, 0);
  const drawn = Math.min(rowsShown, loaded);
  more.hidden = drawn >= total;
  if (more.hidden) return;
  const button = drawn < loaded ? h('button', {
    type: 'button', class: 'small', 'data-key': 'jobs-more',
    onclick: () => { rowsShown += PAGE_ROWS; renderQueue(); },
  }, t('queue.more', { n: fmtNum(Math.min(PAGE_ROWS, loaded - drawn)) })) : null;
  replaceChildren(more, [t('queue.showing', { shown: fmtNum(drawn), total: fmtNum(total) }), ' ', button]);
}

export function setupQueue(redraw) {
  const select = document.getElementById('state-filter');
  select.addEventListener('change', () => { filter = select.value; rowsShown = PAGE_ROWS; redraw(); });
  document.addEventListener('printd:filter', (ev) => {
    filter = ev.detail; select.value = filter; rowsShown = PAGE_ROWS; redraw();
  });
}

// Printer: one card per printer with its state in plain words, what each problem means and what to
// do, supplies, hopper, current job and today's cards; pause/resume and accept/reject; and, for
// technicians, the printer's diagnostics when the daemon offers them.
import { renderDiagnostics } from './diagview.js';
import { fitnessNotes } from './fitness.js';
import { api, errorText } from './api.js';
import { announce, h, replaceChildren } from './dom.js';
import { config, fmtNum, fmtTime, has, t } from './i18n.js';
import { changed, setPrinter, state } from './state.js';

const CAN_CONTROL = new Set(['operator', 'technician', 'admin']);
const SEES_DIAGNOSTICS = new Set(['technician', 'admin']);
const diagOpen = new Set();
const messages = new Map();   // printer -> the last refusal, kept across live redraws for a while

function control(printer, action, body) {
  return async () => {
    try {
      const updated = await api('POST', `/api/v1/printers/${encodeURIComponent(printer.name)}/${action}`, body);
      setPrinter(updated);
      announce(t(`printers.done.${action}${body && body.when === 'after_current' ? '_after' : ''}`, { printer: printer.name }));
    } catch (e) {
      messages.set(printer.name, errorText(e));
      changed();
      setTimeout(() => { messages.delete(printer.name); changed(); }, 10000);
    }
  };
}

function button(printer, key, label, onClick, cls = '') {
  return h('button', { type: 'button', class: cls, 'data-key': `printer:${printer.name}:${key}`,
                       'aria-label': t('printers.action_for', { action: label, printer: printer.name }),
                       onclick: onClick }, label);
}

function supply(label, s, id) {
  if (!s || s.remaining === null || s.remaining === undefined) {
    return [h('dt', {}, label), h('dd', {}, '—')];
  }
  const cap = s.capacity || Math.max(s.remaining, 1);
  return [
    h('dt', { id }, label),
    h('dd', {},
      h('meter', { min: 0, max: cap, low: Math.ceil(cap * 0.1), high: Math.ceil(cap * 0.3), optimum: cap,
                   value: s.remaining, 'aria-labelledby': id }),
      ' ', t('printers.supply_value', { remaining: fmtNum(s.remaining), capacity: fmtNum(s.capacity) })),
  ];
}

function currentJob(p) {
  if (!p.current_job) return '—';
  const job = state.jobs.get(p.current_job);
  return job ? `${job.name || '—'} (${job.nik_masked})` : p.current_job;
}

function reasons(p) {
  const items = (p.reason_details || []).filter((r) => r.keyword !== 'paused').map((r) =>
    h('li', { class: `reason sev-${r.severity}`, dataset: { reason: r.keyword } },
      h('strong', {}, has(`reason.${r.keyword}`) ? t(`reason.${r.keyword}`) : r.keyword),
      has(`remedy.${r.keyword}`) ? `: ${t(`remedy.${r.keyword}`)}` : (r.message ? `: ${r.message}` : '')));
  return items.length ? h('ul', { class: 'reasons' }, items) : null;
}

function diagnostics(p) {
  if (!SEES_DIAGNOSTICS.has(config.role)) return null;
  const entry = state.diagnostics.get(p.name);
  if (!entry) {
    loadDiagnostics(p.name);
    return null;
  }
  if (!entry.data) return null;
  // live: while the section is open, a change of the printer's state or reasons reads it again (once)
  const basis = `${p.state}|${(p.reasons || []).join(',')}`;
  if (entry.basis === undefined) entry.basis = basis;
  if (diagOpen.has(p.name) && entry.basis !== basis) loadDiagnostics(p.name, basis);
  const details = h('details', { class: 'diag', open: diagOpen.has(p.name) },
    h('summary', { 'data-key': `printer:${p.name}:diag` }, t('printers.diagnostics')),
    renderDiagnostics(entry.data),
    button(p, 'diag-reload', t('printers.diagnostics_reload'), () => loadDiagnostics(p.name), 'small'));
  details.addEventListener('toggle', () => {
    if (details.open) diagOpen.add(p.name); else diagOpen.delete(p.name);
  });
  return details;
}

async function loadDiagnostics(name, basis) {
  const previous = state.diagnostics.get(name);
  if (previous && previous.status === 'loading') return;
  state.diagnostics.set(name, { status: 'loading', data: previous && previous.data, basis });
  try {
    const data = await api('GET', `/api/v1/printers/${encodeURIComponent(name)}/diagnostics`);
    state.diagnostics.set(name, { status: 'ok', data, basis });
  } catch (e) {
    // not offered by this daemon (or not allowed): the section stays hidden
    state.diagnostics.set(name, { status: 'absent' });
  }
  changed();
}

function card(p) {
  const busy = Boolean(p.current_job);
  const paused = !p.enabled || p.pause_after_current;
  const controls = [];
  if (CAN_CONTROL.has(config.role)) {
    if (paused || p.state === 'stopped' || p.state === 'offline') {
      // after a jam is cleared the remedy says "press Resume": resuming also asks the printer again at once
      controls.push(button(p, 'resume', t('printers.resume'), control(p, 'resume'), 'primary'));
    }
    if (!paused) {
      controls.push(button(p, 'pause', t('printers.pause_now'), control(p, 'pause', { when: 'now' })));
      if (busy) controls.push(button(p, 'pause-after', t('printers.pause_after'), control(p, 'pause', { when: 'after_current' })));
    }
    controls.push(p.accepting
      ? button(p, 'reject', t('printers.reject'), control(p, 'reject'))
      : button(p, 'accept', t('printers.accept'), control(p, 'accept'), 'primary'));
  }
  const hopper = p.hopper || {};
  const headingId = `printer-h-${p.name}`;
  return h('article', { class: `printer-card state-${p.state}`, dataset: { printer: p.name, state: p.state },
                        'aria-labelledby': headingId },
    h('header', {},
      h('h2', { id: headingId }, p.name),
      h('span', { class: `pill pstate-${p.state}`, 'data-role': 'state' }, t(`state.printer.${p.state}`)),
      h('p', { class: 'muted small-text' }, [p.model, p.serial ? `SN ${p.serial}` : null].filter(Boolean).join(' · '))),
    h('p', { class: 'state-explain' }, t(`state.printer_explain.${p.state}`)),
    p.pause_after_current ? h('p', { class: 'note' }, t('printers.pausing_after')) : null,
    !p.accepting ? h('p', { class: 'note' }, t('printers.not_accepting')) : null,
    reasons(p),
    fitnessNotes(p),
    h('dl', { class: 'facts' },
      supply(t('printers.ribbon'), p.ribbon, `ribbon-${p.name}`),
      p.film ? supply(t('printers.film'), p.film, `film-${p.name}`) : [],
      h('dt', {}, t('printers.hopper')),
      h('dd', { 'data-role': 'hopper' }, t('printers.hopper_value', {
        count: fmtNum(hopper.count), card_type: hopper.card_type ? t(`card_type.${hopper.card_type}`) : '—' })),
      h('dt', {}, t('printers.current_job')), h('dd', {}, currentJob(p)),
      h('dt', {}, t('printers.today')), h('dd', { 'data-role': 'today' }, fmtNum(p.counters ? p.counters.today : null)),
      h('dt', {}, t('printers.last_seen')), h('dd', {}, fmtTime(p.last_seen_at))),
    controls.length ? h('div', { class: 'buttons' }, controls) : null,
    h('p', { class: 'form-msg error-text', role: 'status' }, messages.get(p.name) || ''),
    diagnostics(p));
}

export function renderPrinters() {
  const list = [...state.printers.values()];
  replaceChildren(document.getElementById('printer-cards'), list.map(card));
  const trouble = list.filter((p) => p.state === 'stopped' || p.state === 'offline').length;
  document.getElementById('tab-printers-count').textContent = trouble ? `(${trouble} !)` : '';
}

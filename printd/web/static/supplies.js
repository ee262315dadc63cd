// Pita (ribbon) dan film: the rolls in the store and on each printer, prints and days left, alerts,
// and the two everyday forms (a delivery or loan received; a roll fitted on a printer).
import { api, errorText } from './api.js';
import { announce, h, replaceChildren } from './dom.js';
import { fmtNum, fmtTime, t } from './i18n.js';

const int = (v) => Number.parseInt(String(v), 10);
const num = (v) => (v === null || v === undefined ? '—' : fmtNum(v));

function rows(view) {
  const out = [];
  for (const k of view.kinds) {
    out.push(h('tr', { dataset: { kind: k.kind, where: 'store' } },
      h('td', {}, t('supplies.store')), h('td', {}, t(`supplies.kind.${k.kind}`)),
      h('td', {}, k.lots.filter((l) => l.in_store > 0).map((l) => `#${l.id} ${l.source}`).join(', ') || '—'),
      h('td', { class: 'num' }, t('supplies.rolls', { count: fmtNum(k.store) })),
      h('td', { class: 'num' }, num(k.prints_left)),
      h('td', { class: 'num' }, num(k.days_left))));
  }
  for (const p of view.printers) {
    const lot = p.lot_id === null ? t('supplies.unrecorded') : `#${p.lot_id}`;
    out.push(h('tr', { dataset: { kind: p.kind, where: p.printer } },
      h('td', {}, p.printer), h('td', {}, t(`supplies.kind.${p.kind}`)),
      h('td', { title: fmtTime(p.installed_at) }, lot),
      h('td', { class: 'num' }, num(p.cards)),
      h('td', { class: 'num', title: t(`supplies.basis.${p.remaining_basis}`) }, num(p.remaining)),
      h('td', {}, '')));
  }
  return out;
}

export async function loadSupplies() {
  const body = document.getElementById('supplies-body');
  if (!body) return;
  const view = await api('GET', '/api/v1/supplies');
  replaceChildren(body, rows(view));
  replaceChildren(document.getElementById('supplies-alerts'),
    view.alerts.map((a) => h('li', { class: 'warn-text', dataset: { code: a.code } }, a.message)));
}

function wire(formId, build) {
  const form = document.getElementById(formId);
  if (!form) return;
  const msg = form.querySelector('.form-msg');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.classList.remove('error-text');
    if (!form.reportValidity()) return;
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    try {
      const { path, body, done } = build(new FormData(form));
      await api('POST', path, body);
      msg.textContent = done;
      announce(done);
      for (const input of form.querySelectorAll('input')) input.value = '';
      await loadSupplies();
    } catch (e) {
      msg.textContent = errorText(e);
      msg.classList.add('error-text');
    } finally {
      button.disabled = false;
    }
  });
}

export function setupSupplies() {
  wire('form-supply-receipt', (f) => ({
    path: '/api/v1/supplies/receipts',
    body: { kind: f.get('kind'), source: f.get('source'), count: int(f.get('count')),
            reference: String(f.get('reference')).trim(),
            ...(String(f.get('party') || '').trim() ? { party: String(f.get('party')).trim() } : {}) },
    done: t('supplies.receive.done', { count: fmtNum(int(f.get('count'))) }),
  }));
  wire('form-supply-install', (f) => ({
    path: '/api/v1/supplies/installs',
    body: { printer: f.get('printer'), kind: f.get('kind') },
    done: t('supplies.install.done', { printer: f.get('printer') }),
  }));
  loadSupplies().catch(() => {});
}

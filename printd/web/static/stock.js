// Stok blangko: balances in the safe and each hopper, days of stock left, alerts, today's ledger
// entries, and the forms to receive a delivery, load or unload a hopper and correct a count.
import { api, errorText } from './api.js';
import { wireDocumentForm } from './custody.js';
import { announce, h, replaceChildren } from './dom.js';
import { config, fmtDec, fmtNum, fmtTime, has, t } from './i18n.js';
import { loadStock, setStock, state } from './state.js';

function place(loc) {
  if (!loc) return '—';
  if (loc.startsWith('hopper:')) return t('stock.location.hopper', { printer: loc.slice(7) });
  return has(`stock.location.${loc}`) ? t(`stock.location.${loc}`) : loc;
}

function balanceRow(ct) {
  return h('tr', { dataset: { cardType: ct.card_type } },
    h('th', { scope: 'row' }, t(`card_type.${ct.card_type}`)),
    h('td', { class: 'num', dataset: { loc: 'safe' } }, fmtNum(ct.safe)),
    config.printers.map((p) => h('td', { class: 'num', dataset: { loc: `hopper:${p.name}` } },
      fmtNum(ct.hoppers ? ct.hoppers[p.name] : null))),
    h('td', { class: 'num total' }, fmtNum(ct.total)),
    h('td', { class: 'num' }, ct.days_left === null || ct.days_left === undefined ? '—'
      : t('stock.days_value', { days: fmtDec(ct.days_left) })),
    h('td', { class: 'num', dataset: { loc: 'rusak' } }, fmtNum(ct.rusak)));
}

function ledgerRow(e) {
  const note = [e.category && has(`category.${e.category}`) ? t(`category.${e.category}`) : null, e.reference,
                e.reason ? (has(`reason.${e.reason}`) ? t(`reason.${e.reason}`) : e.reason) : null,
                e.job_id].filter(Boolean).join(' · ');
  return h('tr', {},
    h('td', {}, fmtTime(e.at)),
    h('td', {}, has(`ledger.kind.${e.kind}`) ? t(`ledger.kind.${e.kind}`) : e.kind),
    h('td', {}, t(`card_type.${e.card_type}`)),
    h('td', { class: 'num' }, fmtNum(e.count)),
    h('td', {}, `${place(e.from)} → ${place(e.to)}`),
    h('td', {}, note || '—'),
    h('td', {}, e.actor));
}

export function renderStock() {
  const stock = state.stock;
  if (!stock) return;
  const shown = stock.card_types.filter((ct) => ct.total > 0 || config.printers.some((p) => p.card_type === ct.card_type));
  replaceChildren(document.getElementById('stock-body'), shown.map(balanceRow));
  replaceChildren(document.getElementById('stock-alerts'), stock.alerts.map((a) =>
    h('li', { class: 'alert warning' }, has(`alert.${a.code}`)
      ? t(`alert.${a.code}`, { card_type: a.card_type ? t(`card_type.${a.card_type}`) : '', printer: a.printer || '' })
      : a.message)));
  const entries = [...state.ledger].reverse().slice(0, 200);
  replaceChildren(document.getElementById('ledger-body'), entries.length ? entries.map(ledgerRow)
    : [h('tr', {}, h('td', { colspan: 7, class: 'empty' }, t('stock.ledger.empty')))]);
}

function wire(formId, build) {
  const form = document.getElementById(formId);
  const msg = form.querySelector('.form-msg');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.classList.remove('error-text');
    if (!form.reportValidity()) return;
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    try {
      const { path, body, done } = build(new FormData(form));
      const result = await api('POST', path, body);
      if (result && result.card_types) setStock(result);
      msg.textContent = done;
      announce(done);
      for (const input of form.querySelectorAll('input[type="number"], input[type="text"]')) input.value = '';
      loadStock().catch(() => {});
    } catch (e) {
      msg.textContent = errorText(e);
      msg.classList.add('error-text');
    } finally {
      button.disabled = false;
    }
  });
}

const int = (v) => Number.parseInt(String(v), 10);

export function setupStock() {
  // a delivery answers with its BAST to print (wireDocumentForm offers the link)
  wireDocumentForm('form-receive', (f) => ({
    path: '/api/v1/stock/receipts',
    body: { card_type: f.get('card_type'), count: int(f.get('count')), reference: String(f.get('reference')).trim(),
            ...(String(f.get('sender') || '').trim() ? { sender: String(f.get('sender')).trim() } : {}) },
    done: t('stock.receive.done', { count: fmtNum(int(f.get('count'))), card_type: t(`card_type.${f.get('card_type')}`) }),
    confirm: {
      title: t('stock.receive.confirm_title'),
      text: t('stock.receive.confirm', { count: fmtNum(int(f.get('count'))), card_type: t(`card_type.${f.get('card_type')}`),
                                         reference: String(f.get('reference')).trim() }),
      ok: t('stock.receive.confirm_ok'),
    },
  }));
  wire('form-hopper', (f) => {
    const action = f.get('action') === 'unload' ? 'unloads' : 'loads';
    return {
      path: `/api/v1/stock/${action}`,
      body: { printer: f.get('printer'), card_type: f.get('card_type'), count: int(f.get('count')) },
      done: t(`stock.hopper.done_${action}`, { count: fmtNum(int(f.get('count'))), printer: f.get('printer') }),
    };
  });
  wire('form-adjust', (f) => ({
    path: '/api/v1/stock/adjustments',
    body: { card_type: f.get('card_type'), location: f.get('location'), delta: int(f.get('delta')),
            reason: String(f.get('reason')).trim() },
    done: t('stock.adjust.done', { delta: int(f.get('delta')) > 0 ? `+${int(f.get('delta'))}` : int(f.get('delta')),
                                   location: place(f.get('location') === 'safe' ? 'safe' : `hopper:${f.get('location')}`) }),
  }));
  // a printer takes one card type: picking the printer picks its type
  const printer = document.getElementById('hop-printer');
  const type = document.getElementById('hop-type');
  const sync = () => { const opt = printer.selectedOptions[0]; if (opt && opt.dataset.cardType) type.value = opt.dataset.cardType; };
  printer.addEventListener('change', sync);
  sync();
}

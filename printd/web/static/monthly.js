// Laporan bulanan: the month's blangko report sent up the chain (GET /api/v1/reports/monthly), as a
// table, a CSV download and a printable A4 page.
import { api, errorText } from './api.js';
import { h, replaceChildren } from './dom.js';
import { fmtNum, stationDay, t } from './i18n.js';

const ROWS = ['opening', 'received', 'consumed', 'spoiled', 'test', 'adjusted', 'closing', 'surrendered', 'destroyed',
              'returned', 'custody_closing'];
const CATEGORIES = ['gagal_cetak', 'gagal_encode', 'rusak_fisik', 'cacat_pabrik', 'perubahan_data'];

const url = (month, format) => `/api/v1/reports/monthly?month=${encodeURIComponent(month)}${format ? `&format=${format}` : ''}`;

function message(text, error = false) {
  const msg = document.getElementById('monthly-msg');
  msg.textContent = text;
  msg.classList.toggle('error-text', error);
}

function render(report) {
  const types = report.card_types || [];
  const head = h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('monthly.item')),
    types.map((c) => h('th', { scope: 'col', class: 'num' }, t(`card_type.${c.card_type}`)))));
  const rows = [
    ...ROWS.map((r) => h('tr', { dataset: { row: r } }, h('th', { scope: 'row' }, t(`monthly.row.${r}`)),
      types.map((c) => h('td', { class: 'num' }, fmtNum(c[r]))))),
    ...CATEGORIES.map((cat) => h('tr', { dataset: { row: `spoiled:${cat}` } },
      h('th', { scope: 'row', class: 'sub' }, `— ${t(`category.${cat}`)}`),
      types.map((c) => h('td', { class: 'num' }, fmtNum((c.spoiled_by_category || {})[cat] || 0))))),
  ];
  const printers = h('table', { class: 'report' }, h('caption', {}, t('report.printers')),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('report.col.printer')),
      ['printed', 'spoiled', 'test'].map((c) => h('th', { scope: 'col', class: 'num' }, t(`monthly.printer.${c}`))))),
    h('tbody', {}, (report.printers || []).map((p) => h('tr', {}, h('th', { scope: 'row' }, p.name),
      ['printed', 'spoiled', 'test'].map((c) => h('td', { class: 'num' }, fmtNum(p[c])))))));
  replaceChildren(document.getElementById('monthly-body'), [
    h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t('monthly.for_month', { month: report.month }) },
      h('table', { class: 'report', id: 'monthly-card-types' },
      h('caption', {}, t('monthly.for_month', { month: report.month })), head, h('tbody', {}, rows))),
    h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t('report.printers') }, printers),
    h('p', { class: 'muted' }, t('monthly.days_printed', { days: report.days_printed })),
  ]);
}

export async function showMonthly(month) {
  message(t('report.loading'));
  try {
    render(await api('GET', url(month)));
    message('');
  } catch (e) {
    replaceChildren(document.getElementById('monthly-body'), []);
    message(errorText(e), true);
  }
}

export function setupMonthly() {
  const input = document.getElementById('monthly-month');
  const thisMonth = stationDay().slice(0, 7);
  input.value = thisMonth;
  input.max = thisMonth;
  const sync = () => {
    const month = input.value || thisMonth;
    document.getElementById('monthly-csv').href = url(month, 'csv');
    document.getElementById('monthly-print').href = url(month, 'html');
  };
  input.addEventListener('change', sync);
  sync();
  document.getElementById('form-monthly').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (input.reportValidity()) showMonthly(input.value);
  });
}

// Laporan: the daily blangko report for any station day (GET /api/v1/reports/daily), as a table,
// a CSV download (Accept: text/csv) and a printable page (the same URL opened in a new tab: a
// browser navigation asks for text/html first).
import { api, errorText } from './api.js';
import { dmyToIso, isoToDmy } from './datefield.js';
import { h, replaceChildren } from './dom.js';
import { fmtDay, fmtNum, has, stationDay, t } from './i18n.js';

const COLUMNS = ['opening', 'received', 'consumed', 'spoiled', 'test', 'adjusted', 'closing'];
let loadedFor = null;

function url(day) {
  return `/api/v1/reports/daily?date=${encodeURIComponent(day)}`;
}

function message(text, error = false) {
  const msg = document.getElementById('report-msg');
  msg.textContent = text;
  msg.classList.toggle('error-text', error);
}

function spoiledDetail(byReason) {
  const parts = Object.entries(byReason || {}).map(([reason, n]) =>
    `${has(`reason.${reason}`) ? t(`reason.${reason}`) : reason}: ${fmtNum(n)}`);
  return parts.length ? h('div', { class: 'sub' }, parts.join(', ')) : null;
}

// the ministry's categories, beside the printer's reasons
function categoryDetail(byCategory) {
  const parts = Object.entries(byCategory || {}).filter(([, n]) => n).map(([cat, n]) =>
    `${has(`category.${cat}`) ? t(`category.${cat}`) : cat}: ${fmtNum(n)}`);
  return parts.length ? h('div', { class: 'sub', dataset: { detail: 'category' } }, parts.join(', ')) : null;
}

function render(report) {
  const cardTable = h('table', { class: 'report', id: 'report-card-types' },
    h('caption', {}, t('report.card_types')),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('stock.col.card_type')),
      COLUMNS.map((c) => h('th', { scope: 'col', class: 'num' }, t(`report.col.${c}`))))),
    h('tbody', {}, (report.card_types || []).map((ct) => h('tr', { dataset: { cardType: ct.card_type } },
      h('th', { scope: 'row' }, t(`card_type.${ct.card_type}`)),
      COLUMNS.map((c) => h('td', { class: 'num', dataset: { col: c } }, fmtNum(ct[c]),
        c === 'spoiled' ? [categoryDetail(ct.spoiled_by_category), spoiledDetail(ct.spoiled_by_reason)] : null))))));
  const printerTable = h('table', { class: 'report' },
    h('caption', {}, t('report.printers')),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('report.col.printer')),
      ['consumed', 'spoiled', 'test'].map((c) => h('th', { scope: 'col', class: 'num' }, t(`report.col.${c}`))))),
    h('tbody', {}, (report.printers || []).map((p) => h('tr', {},
      h('th', { scope: 'row' }, p.name),
      ['consumed', 'spoiled', 'test'].map((c) => h('td', { class: 'num' }, fmtNum(p[c])))))));
  const doubt = report.in_doubt || [];
  replaceChildren(document.getElementById('report-body'), [
    h('h2', {}, t('report.for_day', { day: fmtDay(report.date) })),
    h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t('report.card_types') }, cardTable),
    h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': t('report.printers') }, printerTable),
    h('h3', {}, t('report.in_doubt', { count: doubt.length })),
    doubt.length ? h('ul', {}, doubt.map((j) => h('li', {}, `${j.name || '—'} · ${j.nik_masked} · ${j.id}`)))
      : h('p', { class: 'muted' }, t('report.in_doubt_none')),
  ]);
}

function reportError(e) {
  if (e.status === 404 && e.code === 'not_found') return t('report.unavailable');
  return errorText(e);
}

export async function showReport(day) {
  loadedFor = day;
  message(t('report.loading'));
  try {
    render(await api('GET', url(day)));
    message('');
  } catch (e) {
    replaceChildren(document.getElementById('report-body'), []);
    message(reportError(e), true);
  }
}

async function downloadCsv(day) {
  try {
    const res = await api('GET', url(day), undefined, { accept: 'text/csv' });
    const blob = await res.blob();
    const link = h('a', { href: URL.createObjectURL(blob), download: `laporan-harian-${day}.csv`, hidden: true });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    message(t('report.csv_done', { day }));
  } catch (e) {
    message(reportError(e), true);
  }
}

export function reportShown() {
  return loadedFor !== null;
}

// the ISO day in the (dd/mm/yyyy) field, or null when it is no day up to today
export function selectedDay() {
  const day = dmyToIso(document.getElementById('report-date').value);
  return day && day <= stationDay() ? day : null;
}

function checked(input) {
  input.setCustomValidity(selectedDay() ? '' : t('report.date_invalid'));
  return input.reportValidity();
}

export function setupReport() {
  const input = document.getElementById('report-date');
  const print = document.getElementById('report-print');
  const today = stationDay();
  input.value = isoToDmy(today);
  const syncLink = () => { print.href = url(selectedDay() || today); };
  input.addEventListener('input', () => { input.setCustomValidity(''); syncLink(); });
  input.addEventListener('change', syncLink);
  syncLink();
  document.getElementById('form-report').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (checked(input)) showReport(selectedDay());
  });
  document.getElementById('report-csv').addEventListener('click', () => {
    if (checked(input)) downloadCsv(selectedDay());
  });
}

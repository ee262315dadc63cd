// The operator page: views (Antrian, Printer, Stok blangko, Laporan), live updates and alerts.
import { renderAlerts, setupAlerts } from './alerts.js';
import { loadDocuments, setupCustody } from './custody.js';
import { fmtClock, config, t } from './i18n.js';
import { startLive } from './live.js';
import { loadReader, onReader, setupDestroyTap } from './chips.js';
import { setupMonthly } from './monthly.js';
import { renderPrinters } from './printers.js';
import { renderQueue, setupQueue } from './queue.js';
import { reportShown, selectedDay, setupReport, showReport } from './report.js';
import { setupRowFocus } from './rowfocus.js';
import { setupSearch } from './search.js';
import {
  changed, loadAll, loadJobs, loadStock, onChange, setPrinter, upsertJob,
} from './state.js';
import { renderStock, setupStock } from './stock.js';
import { loadSupplies, setupSupplies } from './supplies.js';
import { setupFitness } from './fitness.js';

// the views this role has a tab for (no Laporan for a technician: the reports API is not theirs)
const VIEWS = [...document.querySelectorAll('nav.tabs a[data-view]')].map((a) => a.dataset.view);
const ACTS = new Set(['operator', 'admin']);

function currentView() {
  const name = window.location.hash.slice(1);
  return VIEWS.includes(name) ? name : 'queue';
}

function route() {
  const view = currentView();
  for (const section of document.querySelectorAll('main > section.view')) {
    section.hidden = section.dataset.view !== view;
  }
  for (const tab of document.querySelectorAll('nav.tabs a')) {
    if (tab.dataset.view === view) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  document.title = `${t(`nav.${view}`)} · ${config.station} · printd`;
  document.dispatchEvent(new CustomEvent('printd:view', { detail: view }));   // users.js loads on its tab
  if (view === 'reports' && !reportShown()) showReport(selectedDay());
  // the language switch comes back to this tab
  const lang = document.getElementById('lang-switch');
  lang.href = `${lang.getAttribute('href').split('?')[0]}?next=${encodeURIComponent(`/#${view}`)}`;
  if (view === 'stock' && ACTS.has(config.role)) loadDocuments().catch(() => {});   // berita acara to print
}

// Several events in a row (a card finishing changes the job and the printer) give one reload.
// fn at most once per `ms`; it may return a promise (its failure is left to the next event)
function debounce(fn, ms) {
  let timer = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => { timer = null; Promise.resolve(fn()).catch(() => {}); }, ms);
  };
}

function tick() {
  document.getElementById('clock').textContent = fmtClock();
}

function main() {
  document.body.dataset.role = config.role;
  if (!ACTS.has(config.role)) {
    for (const el of document.querySelectorAll('[data-needs="operator"]')) el.hidden = true;
  }
  setupAlerts();
  setupQueue(changed);
  setupSearch(changed);
  setupRowFocus();
  setupStock();
  setupCustody();
  setupSupplies();
  setupFitness();
  if (VIEWS.includes('reports')) {
    setupReport();
    setupMonthly();
  }
  setupDestroyTap();
  onChange(() => {
    renderQueue();
    renderPrinters();
    renderStock();
    renderAlerts();
  });
  window.addEventListener('hashchange', route);
  route();
  tick();
  setInterval(tick, 15000);

  // queue positions and estimates of the other jobs move when one job changes
  // (and a printed card took a blank from a hopper: the stock view follows)
  const refreshJobs = debounce(() => Promise.all([loadJobs(), loadStock()]), 1500);
  const refreshStock = debounce(loadStock, 300);
  const refreshSupplies = debounce(loadSupplies, 1500);   // a card printed or a roll changed
  // stock and printer levels decide whether rationing is on: the Kebijakan tab re-reads it (policy.js)
  const stockMoved = debounce(() => document.dispatchEvent(new CustomEvent('printd:stock')), 1500);
  const reloadAll = () => Promise.all([loadAll(), loadReader()]).catch(() => {});
  startLive({
    open: reloadAll,
    resync: reloadAll,
    job: (job) => { upsertJob(job); refreshJobs(); },
    printer: (printer) => { setPrinter(printer); refreshSupplies(); stockMoved(); },
    stock: () => { refreshStock(); stockMoved(); },
    alert: () => refreshStock(),
    reader: (data) => onReader(data),
  });
  // the session ends after [server] session_hours: leave the page then, it shows personal data
  const left = config.session_expires_at * 1000 - Date.now();
  setTimeout(() => window.location.assign('/login'), Math.max(0, Math.min(left + 1000, 2 ** 31 - 1)));
  // a slow safety net: live events are the real source of change
  setInterval(() => { if (document.body.dataset.conn === 'live') reloadAll(); }, 60000);
}

main();

// What the page knows: jobs, printers, stock. Filled by full loads and kept current by live events;
// every change schedules one redraw of the views.
import { api, listAll } from './api.js';
import { stationDay } from './i18n.js';

export const state = {
  jobs: new Map(),
  printers: new Map(),
  stock: null,
  ledger: [],
  diagnostics: new Map(),   // printer -> {status: 'loading' | 'ok' | 'absent', data}
};

const PENDING_OR_ACTIVE = new Set(['queued', 'held', 'printing', 'in_doubt']);
const listeners = new Set();
let scheduled = false;

export function onChange(fn) {
  listeners.add(fn);
}

export function offChange(fn) {
  listeners.delete(fn);
}

export function changed() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const fn of listeners) {
      try { fn(); } catch (e) { console.error(e); }
    }
  });
}

// A job belongs on today's page if it is still open, or it changed today (station day).
export function relevant(job) {
  return PENDING_OR_ACTIVE.has(job.state) || stationDay(new Date(job.updated_at)) === stationDay();
}

export function upsertJob(job) {
  const old = state.jobs.get(job.id);
  // a full load may answer after a live event that is newer: keep the newer one
  if (old && old.updated_at > job.updated_at) return;
  if (relevant(job)) state.jobs.set(job.id, job);
  else state.jobs.delete(job.id);
  changed();
}

export function setPrinter(printer) {
  state.printers.set(printer.name, printer);
  changed();
}

export function setStock(stock) {
  state.stock = { card_types: stock.card_types || [], alerts: stock.alerts || [] };
  changed();
}

export async function loadJobs() {
  const today = stationDay();
  // today's jobs, plus anything still open from earlier days (a card in doubt since yesterday)
  const lists = await Promise.all([
    listAll(`/api/v1/jobs?date=${today}`),
    ...['queued', 'held', 'printing', 'in_doubt'].map((s) => listAll(`/api/v1/jobs?state=${s}`)),
  ]);
  const fresh = new Map();
  for (const job of lists.flat()) if (relevant(job)) fresh.set(job.id, job);
  for (const [id, job] of state.jobs) {
    const f = fresh.get(id);
    if (f && job.updated_at > f.updated_at) fresh.set(id, job);
  }
  state.jobs = fresh;
  changed();
}

export async function loadPrinters() {
  const list = await api('GET', '/api/v1/printers');
  state.printers = new Map(list.map((p) => [p.name, p]));
  changed();
}

export async function loadStock() {
  const today = stationDay();
  const [stock, ledger] = await Promise.all([
    api('GET', '/api/v1/stock'),
    api('GET', `/api/v1/stock/ledger?from=${today}&to=${today}`),
  ]);
  state.ledger = ledger.items || [];
  setStock(stock);
}

export async function loadAll() {
  await Promise.all([loadPrinters(), loadJobs(), loadStock()]);
}

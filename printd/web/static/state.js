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
  // jobs waiting at the station, from the server's count: a backlog of thousands is loaded only in
  // its first QUEUED_LOADED jobs (the page shows the head of the queue and this count)
  queuedTotal: null,
};

// the head of the queue the page loads; the rest is counted, not transferred
const QUEUED_LOADED = 500;

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
  if (state.queuedTotal !== null) {
    // keep the count current between loads; a job the page never loaded that starts printing
    // came from the queue (a claim)
    const was = old ? old.state === 'queued' : job.state === 'printing';
    state.queuedTotal += (job.state === 'queued' ? 1 : 0) - (was ? 1 : 0);
    if (!old && job.state === 'queued' && job.position && job.position > QUEUED_LOADED) {
      changed();
      return;   // beyond the loaded head: counted, not kept
    }
  }
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
  const [queued, ...lists] = await Promise.all([
    api('GET', `/api/v1/jobs?state=queued&limit=${QUEUED_LOADED}`),
    listAll(`/api/v1/jobs?date=${today}`, 2000),
    ...['held', 'printing', 'in_doubt'].map((s) => listAll(`/api/v1/jobs?state=${s}`)),
  ]);
  lists.push(queued.items);
  state.queuedTotal = typeof queued.total === 'number' ? queued.total : null;
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

// Printer fitness on the page: why a printer takes no card (start-of-day check, resting after a run,
// hourly cap), a live countdown of the rest, the cleaning reminder, and the start-of-day check form.
import { api, errorText } from './api.js';
import { announce, h } from './dom.js';
import { fmtNum, fmtTime, t } from './i18n.js';

function left(until) {
  const s = Math.max(0, Math.round((Date.parse(until) - Date.now()) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// notes for a printer card (empty when there is nothing to say)
export function fitnessNotes(p) {
  const out = [];
  if (p.fitness && !p.fitness.fit) {
    for (const why of p.fitness.unfit_reasons) {
      out.push(h('p', { class: 'note warn-text', dataset: { fitness: why } }, t(`fitness.unfit.${why}`, {
        temperature: p.fitness.last_check ? fmtNum(p.fitness.last_check.temperature_c) : '—',
        window: p.fitness.temperature_window_c ? p.fitness.temperature_window_c.join('–') : '—' })));
    }
  }
  if (p.duty && p.duty.state && p.duty.until) {
    out.push(h('p', { class: 'note', dataset: { duty: p.duty.state, until: p.duty.until } },
      t(`fitness.duty.${p.duty.state}`, { left: left(p.duty.until), time: fmtTime(p.duty.until) })));
  }
  if (p.cleaning && p.cleaning.due) {
    out.push(h('p', { class: 'note', dataset: { cleaning: 'due' } },
      t('fitness.cleaning_due', { count: fmtNum(p.cleaning.since) })));
  }
  return out;
}

// the countdowns tick between printer events
function tick() {
  for (const el of document.querySelectorAll('[data-duty][data-until]')) {
    el.textContent = t(`fitness.duty.${el.dataset.duty}`, { left: left(el.dataset.until), time: fmtTime(el.dataset.until) });
  }
}

export function setupFitness() {
  setInterval(tick, 1000);
  const form = document.getElementById('form-printer-check');
  if (!form) return;
  const msg = form.querySelector('.form-msg');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.classList.remove('error-text');
    const f = new FormData(form);
    const temp = String(f.get('temperature_c') || '').trim();
    try {
      const r = await api('POST', `/api/v1/printers/${encodeURIComponent(f.get('printer'))}/checks`, {
        cleaned: f.get('cleaned') === 'on', settings_unchanged: f.get('settings_unchanged') === 'on',
        ...(temp ? { temperature_c: Number(temp) } : {}) });
      msg.textContent = r.fitness.fit ? t('fitness.check.fit', { printer: f.get('printer') })
        : t('fitness.check.unfit', { printer: f.get('printer') });
      if (!r.fitness.fit) msg.classList.add('error-text');
      announce(msg.textContent);
    } catch (e) {
      msg.textContent = errorText(e);
      msg.classList.add('error-text');
    }
  });
}

// Kebijakan (admin only): the rationing policy. Which request reasons still print when blanks, ribbon or
// film fall below their thresholds, and the daily quotas per reason and per client. Saved here it wins
// over the config file's [policy] until reset; the table shows both side by side. The daemon applies a
// change on its next dispatch pass (printd/api/policy.py). Whether rationing is on now follows the
// stock live while the tab is shown.
import { api, errorText } from './api.js';
import { confirmDialog } from './dialogs.js';
import { announce, h, replaceChildren } from './dom.js';
import { fmtTime, t } from './i18n.js';

const REASONS = ['new', 'data_change', 'lost', 'damaged', 'other'];
const form = document.getElementById('form-policy');
const msg = document.getElementById('policy-msg');
let current = null;

function say(text, error = false) {
  msg.textContent = text;
  msg.classList.toggle('error-text', error);
  announce(text);
}

function clearInvalid() {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

// The field the daemon named (e.g. quota_per_reason.lost) marked and focused, so the admin sees where;
// returns the control, if the form has one for it.
function markInvalid(field) {
  if (!field) return;
  let el = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
  if (!el && field.startsWith('quota_per_client')) el = document.getElementById('policy-clients');
  if (!el && field.startsWith('ration_print')) el = form.querySelector('input[name="ration_print"]');
  if (el) {
    el.setAttribute('aria-invalid', 'true');
    el.focus();
  }
  return el;
}

function clientsText(quotas) {
  return Object.entries(quotas).map(([name, n]) => `${name}=${n}`).join('\n');
}

// "siak=650" lines; a line that is not NAME=NUMBER is refused here, naming the line
function parseClients(text) {
  const out = {};
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l);
  for (const line of lines) {
    const m = /^([^=\s]+)\s*=\s*(\d+)$/.exec(line);
    if (!m) throw new Error(t('policy.clients.bad_line', { line }));
    out[m[1]] = Number(m[2]);
  }
  return out;
}

function fill(p) {
  for (const box of form.querySelectorAll('input[name="ration_print"]')) box.checked = p.ration_print.includes(box.value);
  form.elements.ration_blanks_below.value = p.ration_blanks_below;
  form.elements.ration_ribbon_below.value = p.ration_ribbon_below;
  form.elements.ration_film_below.value = p.ration_film_below;
  for (const r of REASONS) {
    const n = p.quota_per_reason[r];
    document.getElementById(`policy-quota-${r}`).value = n === undefined ? '' : n;
  }
  document.getElementById('policy-clients').value = clientsText(p.quota_per_client);
}

function read() {
  const num = (el) => {
    const v = el.value.trim();
    if (!/^\d+$/.test(v)) {
      el.setAttribute('aria-invalid', 'true');
      el.focus();
      throw new Error(t('policy.error.number', { label: form.querySelector(`label[for="${el.id}"]`).textContent }));
    }
    return Number(v);
  };
  const quotas = {};
  for (const r of REASONS) {
    const el = document.getElementById(`policy-quota-${r}`);
    if (el.value.trim() !== '') quotas[r] = num(el);
  }
  let clients;
  try {
    clients = parseClients(document.getElementById('policy-clients').value);
  } catch (e) {
    markInvalid('quota_per_client');
    throw e;
  }
  return {
    ration_print: [...form.querySelectorAll('input[name="ration_print"]:checked')].map((b) => b.value),
    ration_blanks_below: num(form.elements.ration_blanks_below),
    ration_ribbon_below: num(form.elements.ration_ribbon_below),
    ration_film_below: num(form.elements.ration_film_below),
    quota_per_reason: quotas,
    quota_per_client: clients,
  };
}

function describe(key, p) {
  const reasons = (list) => (list.length ? list.map((r) => t(`policy.reason.${r}`)).join(', ') : t('policy.none'));
  const quotas = (q, label) => {
    const parts = Object.entries(q).map(([k, n]) => `${label(k)}: ${n}`);
    return parts.length ? parts.join(', ') : t('policy.no_quota');
  };
  const below = (n) => (n > 0 ? String(n) : t('policy.never'));
  switch (key) {
    case 'ration_print': return reasons(p.ration_print);
    case 'quota_per_reason': return quotas(p.quota_per_reason, (r) => t(`policy.reason.${r}`));
    case 'quota_per_client': return quotas(p.quota_per_client, (c) => c);
    default: return below(p[key]);
  }
}

function render() {
  const p = current;
  document.getElementById('policy-source').textContent = p.source === 'saved'
    ? t('policy.source.saved', { by: p.saved_by.replace(/^(session|token):/, ''), at: fmtTime(p.saved_at) })
    : t('policy.source.config');
  const on = Object.entries(p.rationing || {});
  document.getElementById('policy-now').textContent = on.length
    ? t('policy.now.on', { what: on.map(([ct, why]) => `${ct.toUpperCase()} (${why.map((w) => t(`policy.short.${w}`)).join(', ')})`).join('; ') })
    : t('policy.now.off');
  document.getElementById('policy-reset').disabled = p.source !== 'saved';
  const keys = ['ration_print', 'ration_blanks_below', 'ration_ribbon_below', 'ration_film_below',
    'quota_per_reason', 'quota_per_client'];
  replaceChildren(document.getElementById('policy-body'), keys.map((k) => h('tr', { dataset: { rule: k } },
    h('th', { scope: 'row' }, t(`policy.rule.${k}`)),
    h('td', { class: 'effective' }, describe(k, p.effective)),
    h('td', { class: 'config' }, describe(k, p.config)))));
}

async function load(refill = true) {
  current = await api('GET', '/api/v1/policy');
  if (refill) fill(current.effective);
  render();
}

async function send(method, body) {
  const button = form.querySelector('[type="submit"]');
  button.disabled = true;
  try {
    current = await api(method, '/api/v1/policy', body);
    fill(current.effective);
    render();
    say(t(method === 'PUT' ? 'policy.done.save' : 'policy.done.reset'));
  } catch (e) {
    const el = markInvalid(e.field);
    const label = el && el.id ? form.querySelector(`label[for="${el.id}"]`) : null;
    const where = e.field ? t('policy.error.field', { field: label ? label.textContent.trim() : e.field }) : '';
    say(`${errorText(e)}${where ? ` ${where}` : ''}`, true);
  } finally {
    button.disabled = false;
  }
}

function setup() {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearInvalid();
    let body;
    try {
      body = read();
    } catch (e) {
      say(e.message, true);
      return;
    }
    await send('PUT', body);
  });
  document.getElementById('policy-reset').addEventListener('click', () => confirmDialog({
    title: t('policy.reset.heading'), text: t('policy.reset.text'), ok: t('policy.reset'),
    action: async () => { clearInvalid(); await send('DELETE'); },
  }));
  document.addEventListener('printd:view', (ev) => {
    if (ev.detail === 'policy') load().catch((e) => say(errorText(e), true));
  });
  // live while shown: whether rationing is on follows the stock; the form keeps what the admin is typing
  document.addEventListener('printd:stock', () => {
    if (current && !document.getElementById('view-policy').hidden) load(false).catch(() => {});
  });
  if (window.location.hash === '#policy') load().catch((e) => say(errorText(e), true));
}

setup();

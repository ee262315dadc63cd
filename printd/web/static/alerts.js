// The alert banner: printer faults, low stock and cards in doubt. An alert stays until the condition
// is gone (the printer is fixed, the stock is refilled, the card is settled); "silence" only stops
// the sound for the alerts showing now. The sound is made with WebAudio: no file to ship.
import { h, replaceChildren } from './dom.js';
import { has, t } from './i18n.js';
import { state } from './state.js';

const SOUND_KEY = 'printd.sound';
const REPEAT_MS = 30000;
let audio = null;
let repeatTimer = null;
const silenced = new Set();
let heard = new Set();

export function soundOn() {
  return localStorage.getItem(SOUND_KEY) === '1';
}

function beep(times = 2) {
  try {
    audio = audio || new AudioContext();
    if (audio.state === 'suspended') audio.resume();
    for (let i = 0; i < times; i += 1) {
      const start = audio.currentTime + i * 0.35;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'sine';
      osc.frequency.value = i % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.3, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.28);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.3);
    }
  } catch (e) {
    // no audio device: the banner still shows
  }
}

function reasonText(keyword) {
  const what = has(`reason.${keyword}`) ? t(`reason.${keyword}`) : keyword;
  const todo = has(`remedy.${keyword}`) ? t(`remedy.${keyword}`) : '';
  return todo ? `${what}: ${todo}` : what;
}

// Every alert the page should show now: {key, level: 'error' | 'warning', text, view}
export function currentAlerts() {
  const out = [];
  for (const p of state.printers.values()) {
    for (const r of p.reason_details || []) {
      if (r.keyword === 'paused') continue;   // the operator's own choice, shown on the card
      const level = r.severity === 'error' ? 'error' : r.severity === 'warning' ? 'warning' : null;
      if (!level) continue;
      out.push({ key: `printer:${p.name}:${r.keyword}`, level, view: 'printers',
                 text: t('alert.printer', { printer: p.name, text: reasonText(r.keyword) }) });
    }
  }
  for (const a of (state.stock && state.stock.alerts) || []) {
    const text = has(`alert.${a.code}`)
      ? t(`alert.${a.code}`, { card_type: a.card_type ? t(`card_type.${a.card_type}`) : '', printer: a.printer || '' })
      : a.message;
    out.push({ key: `stock:${a.code}:${a.card_type || ''}:${a.printer || ''}`, level: 'warning', view: 'stock', text });
  }
  const doubt = [...state.jobs.values()].filter((j) => j.state === 'in_doubt');
  if (doubt.length) {
    out.push({ key: `in_doubt:${doubt.map((j) => j.id).sort().join(',')}`, level: 'error', view: 'queue',
               text: t('alert.in_doubt', { count: doubt.length }), filter: 'in_doubt' });
  }
  return out;
}

export function renderAlerts() {
  const alerts = currentAlerts();
  const region = document.getElementById('alerts');
  const list = document.getElementById('alert-list');
  region.hidden = alerts.length === 0;
  region.dataset.level = alerts.some((a) => a.level === 'error') ? 'error' : 'warning';
  replaceChildren(list, alerts.map((a) => h('li', { class: `alert ${a.level}`, dataset: { key: a.key } },
    h('span', { class: 'alert-text' }, a.text), ' ',
    h('a', { href: `#${a.view}`, class: 'alert-link', 'data-key': `alert-link:${a.key}`,
             onclick: () => { if (a.filter) document.dispatchEvent(new CustomEvent('printd:filter', { detail: a.filter })); } },
      t(`alerts.go.${a.view}`)))));

  const keys = new Set(alerts.filter((a) => a.level === 'error').map((a) => a.key));
  for (const k of [...silenced]) if (!keys.has(k)) silenced.delete(k);   // gone: may sound again later
  const loud = [...keys].filter((k) => !silenced.has(k));
  document.getElementById('alert-ack').hidden = loud.length === 0;
  if (soundOn() && loud.some((k) => !heard.has(k))) beep();
  heard = keys;
  if (loud.length && soundOn()) {
    if (!repeatTimer) repeatTimer = setInterval(() => { if (soundOn()) beep(); }, REPEAT_MS);
  } else if (repeatTimer) {
    clearInterval(repeatTimer);
    repeatTimer = null;
  }
}

export function setupAlerts() {
  const toggle = document.getElementById('sound-toggle');
  toggle.checked = soundOn();
  toggle.addEventListener('change', () => {
    localStorage.setItem(SOUND_KEY, toggle.checked ? '1' : '0');
    if (toggle.checked) beep(1);   // the click is the gesture browsers want before they play sound
    renderAlerts();
  });
  document.getElementById('alert-ack').addEventListener('click', () => {
    for (const a of currentAlerts()) silenced.add(a.key);
    renderAlerts();
  });
}

// The desk reader on the page: its presence and the last UID read (live, from `reader` events), the
// "Serahkan kartu" step for a printed card, and tapping cards before a destruction. Everything here is
// hidden when the station has no reader configured ([station] reader).
import { api, errorText } from './api.js';
import { openDialog } from './dialogs.js';
import { announce, h, replaceChildren } from './dom.js';
import { config, fmtTime, t } from './i18n.js';

let reader = { configured: false };
const tapped = [];
const listeners = new Set();

function renderBadge() {
  const badge = document.getElementById('reader-status');
  if (!badge) return;
  let text = t('reader.absent');
  let stateName = 'absent';
  if (reader.present) {
    stateName = reader.card_uid ? 'card' : 'ready';
    text = reader.card_uid ? t('reader.card', { uid: reader.card_uid }) : t('reader.ready');
  }
  badge.dataset.state = stateName;
  badge.textContent = text;
  badge.title = [reader.message, reader.last_uid ? t('reader.last', { uid: reader.last_uid }) : '']
    .filter(Boolean).join(' · ');
}

export function onReader(data) {
  reader = data;
  renderBadge();
  for (const fn of listeners) fn();
}

export async function loadReader() {
  if (!config.reader) return;
  onReader(await api('GET', '/api/v1/reader'));
}

// ---------------------------------------------------------------- hand-over of a printed card
export function handoverAction(job, button, jobLabel) {
  if (!config.reader || job.state !== 'printed' || job.handed_over_at) return null;
  return button(job, 'handover', () => {
    const dialog = document.getElementById('dlg-handover');
    const show = () => {
      dialog.querySelector('.handover-reader').textContent = reader.present
        ? (reader.card_uid ? t('reader.card', { uid: reader.card_uid }) : t('reader.ready'))
        : t('reader.absent');
    };
    openDialog('dlg-handover', {
      setup: (d) => {
        d.querySelector('.dlg-job').textContent = jobLabel(job);
        show();
        listeners.add(show);
        d.addEventListener('close', () => listeners.delete(show), { once: true });
      },
      submit: async () => {
        const done = await api('POST', `/api/v1/jobs/${job.id}/handover`, {});
        announce(t('chips.handover.done', { uid: done.chip_uid }));
      },
    });
  });
}

export function handedOverText(job) {
  return job.handed_over_at ? t('chips.handed_over', { when: fmtTime(job.handed_over_at) }) : '';
}

// ---------------------------------------------------------------- tapping before a destruction
function renderTapped() {
  const list = document.getElementById('destroy-tap-list');
  if (!list) return;
  replaceChildren(list, tapped.map((uid) => h('li', { dataset: { uid } },
    h('code', {}, uid), ' ',
    h('button', { type: 'button', class: 'small', 'data-key': `tap:${uid}`,
                  'aria-label': t('chips.tap.remove', { uid }),
                  onclick: () => { tapped.splice(tapped.indexOf(uid), 1); renderTapped(); } }, '×'))));
}

export function setupDestroyTap() {
  const button = document.getElementById('destroy-tap-read');
  if (!button) return;
  const msg = document.querySelector('#destroy-tap .tap-msg');
  button.addEventListener('click', async () => {
    msg.classList.remove('error-text');
    button.disabled = true;
    try {
      const read = await api('POST', '/api/v1/reader/read', {});
      if (tapped.includes(read.uid)) {
        msg.textContent = t('chips.tap.duplicate', { uid: read.uid });
      } else if (read.chip && read.chip.state === 'handed_over') {
        msg.textContent = t('error.chip_handed_over');
        msg.classList.add('error-text');
      } else {
        tapped.push(read.uid);
        renderTapped();
        msg.textContent = t('chips.tap.added', { uid: read.uid, count: tapped.length });
      }
      announce(msg.textContent);
    } catch (e) {
      msg.textContent = errorText(e);
      msg.classList.add('error-text');
    } finally {
      button.disabled = false;
    }
  });
}

// after the destruction is booked: list the tapped cards' UIDs in its berita acara
export async function attachTapped(doc) {
  if (!tapped.length) return doc;
  const result = await api('POST', `/api/v1/stock/destructions/${doc.id}/cards`, { chip_uids: [...tapped] });
  const msg = document.querySelector('#destroy-tap .tap-msg');
  if (msg) msg.textContent = t('chips.tap.attached', { count: tapped.length });
  tapped.length = 0;
  renderTapped();
  return result;
}

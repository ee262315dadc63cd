// Penyimpanan kartu rusak: old cards surrendered for a replacement, the daily destruction before
// witnesses, returns to the ministry, and every berita acara (and each delivery's BAST) to print.
import { api, errorText } from './api.js';
import { attachTapped } from './chips.js';
import { confirmFirst } from './dialogs.js';
import { announce, h, replaceChildren } from './dom.js';
import { fmtNum, t } from './i18n.js';
import { loadStock } from './state.js';

const KINDS = [['receipt', 'receipts'], ['destruction', 'destructions'], ['return', 'returns']];
const int = (v) => Number.parseInt(String(v), 10);

function printLink(url) {
  return h('a', { href: url, target: '_blank', rel: 'noopener', class: 'button-link small' }, t('custody.print'));
}

function documentRow(doc) {
  const from = doc.kind === 'return' ? ` (${t(`custody.from.${doc.from}`)})` : '';
  return h('tr', { dataset: { docId: String(doc.id), kind: doc.kind } },
    h('td', {}, doc.day),
    h('td', {}, t(`custody.kind.${doc.kind}`) + from),
    h('td', {}, t(`card_type.${doc.card_type}`)),
    h('td', { class: 'num' }, fmtNum(doc.count)),
    h('td', {}, doc.reference || '—'),
    h('td', {}, doc.berita_acara ? printLink(doc.berita_acara) : '—'));
}

export async function loadDocuments() {
  const lists = await Promise.all(KINDS.map(([, path]) => api('GET', `/api/v1/stock/${path}`)));
  const docs = lists.flatMap((l) => l.items).sort((a, b) => b.id - a.id).slice(0, 100);
  replaceChildren(document.getElementById('documents-body'), docs.length ? docs.map(documentRow)
    : [h('tr', {}, h('td', { colspan: 6, class: 'empty' }, t('custody.documents.empty')))]);
}

// a form whose answer is a document: say so and offer its berita acara at once
export function wireDocumentForm(formId, build) {
  const form = document.getElementById(formId);
  const msg = form.querySelector('.form-msg');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.classList.remove('error-text');
    replaceChildren(form.querySelector('.form-doc'), []);
    if (!form.reportValidity()) return;
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    try {
      const { path, body, done, after, confirm } = build(new FormData(form));
      // a booking that cannot be undone (the ledger is append-only) is confirmed first where asked
      if (confirm && !(await confirmFirst(confirm))) return;
      let result = await api('POST', path, body);
      if (after) result = await after(result);
      msg.textContent = done;
      replaceChildren(form.querySelector('.form-doc'), result.berita_acara ? [printLink(result.berita_acara)] : []);
      announce(done);
      for (const input of form.querySelectorAll('input[type="number"], input[type="text"], textarea')) input.value = '';
      loadStock().catch(() => {});
      loadDocuments().catch(() => {});
    } catch (e) {
      msg.textContent = errorText(e);
      msg.classList.add('error-text');
    } finally {
      button.disabled = false;
    }
  });
}

export function setupCustody() {
  wireDocumentForm('form-surrender', (f) => ({
    path: '/api/v1/stock/surrendered',
    body: { card_type: f.get('card_type'), count: int(f.get('count')), reason: String(f.get('reason')).trim(),
            ...(String(f.get('job_id') || '').trim() ? { job_id: String(f.get('job_id')).trim() } : {}) },
    done: t('custody.surrender.done', { count: fmtNum(int(f.get('count'))) }),
  }));
  wireDocumentForm('form-destroy', (f) => ({
    path: '/api/v1/stock/destructions',
    body: { card_type: f.get('card_type'), count: int(f.get('count')), method: f.get('method'),
            witnesses: String(f.get('witnesses')).split('\n').map((w) => w.trim()).filter(Boolean),
            reference: String(f.get('reference')).trim() },
    done: t('custody.destroy.done', { count: fmtNum(int(f.get('count'))) }),
    after: attachTapped,   // the UIDs of the cards tapped on the reader go into its berita acara
  }));
  wireDocumentForm('form-return', (f) => ({
    path: '/api/v1/stock/returns',
    body: { card_type: f.get('card_type'), count: int(f.get('count')), from: f.get('from'),
            reference: String(f.get('reference')).trim(),
            ...(String(f.get('recipient') || '').trim() ? { recipient: String(f.get('recipient')).trim() } : {}) },
    done: t('custody.return.done', { count: fmtNum(int(f.get('count'))) }),
  }));
}

// The search box on Antrian: narrows the drawn rows to those whose name, masked NIK (its visible last
// digits) or job id contain what was typed. It works on the rows queue.js draws (after every redraw),
// so the queue's own rendering, sorting and filters stay as they are.
import { t } from './i18n.js';

const input = document.getElementById('queue-search');
const body = document.getElementById('jobs-body');
const empty = document.getElementById('jobs-empty');

function matches(tr, q) {
  if (tr.dataset.jobId.toLowerCase().includes(q)) return true;
  const name = (tr.querySelector('td.name') || {}).textContent || '';
  if (name.toLowerCase().includes(q)) return true;
  // the masked NIK shows its last digits only: digits typed are looked for there
  const nik = ((tr.querySelector('td.mono') || {}).textContent || '').replace(/\D/g, '');
  const digits = q.replace(/\D/g, '');
  return digits.length > 0 && digits === q.replace(/\s/g, '') && nik.endsWith(digits);
}

function apply() {
  const q = input.value.trim().toLowerCase();
  let shown = 0;
  const rows = body.querySelectorAll('tr[data-job-id]');
  for (const tr of rows) {
    tr.hidden = q !== '' && !matches(tr, q);
    if (!tr.hidden) shown += 1;
  }
  if (q !== '' && rows.length > 0 && shown === 0) {
    empty.hidden = false;
    empty.textContent = t('queue.search_none', { q: input.value.trim() });
  } else if (q !== '' || empty.dataset.searched) {
    empty.hidden = rows.length > 0;
    empty.textContent = t('queue.empty');
  }
  empty.dataset.searched = q ? '1' : '';
}

input.addEventListener('input', apply);
new MutationObserver(apply).observe(body, { childList: true });

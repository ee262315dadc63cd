// Keeps a keyboard user on the job row they acted on. Tahan/Lepas/Batalkan redraw the row with other
// buttons (the pressed one is gone), and a confirmation dialog returns focus to its opener, which no longer
// exists: without this the focus would fall back to the page and the operator would tab through it again.

let pending = null;   // the job id of the row last acted on, while focus belongs there

function rowOf(jobId) {
  return jobId ? document.querySelector(`#jobs-body tr[data-job-id="${CSS.escape(jobId)}"]`) : null;
}

function lost() {
  const active = document.activeElement;
  return !active || active === document.body || active.id === 'main' || !active.isConnected;
}

// after each redraw of the queue (and when a dialog hands focus back to the page)
export function restoreRowFocus() {
  if (!pending || !lost()) return;
  const tr = rowOf(pending);
  if (!tr) { pending = null; return; }   // filtered away: nothing to stay on
  const target = tr.querySelector('button, a[href], input, select, textarea');
  if (target) target.focus();
  else { tr.tabIndex = -1; tr.focus(); }
}

export function setupRowFocus() {
  const body = document.getElementById('jobs-body');
  body.addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-job-id]');
    if (tr && ev.target.closest('button')) pending = tr.dataset.jobId;
  });
  document.addEventListener('focusin', (ev) => {
    if (!pending) return;
    if (ev.target.id === 'main') { queueMicrotask(restoreRowFocus); return; }
    // moving into a dialog (the confirmation) keeps the row; anything else the operator chose ends it
    if (!ev.target.closest('dialog') && !ev.target.closest(`tr[data-job-id="${CSS.escape(pending)}"]`)) pending = null;
  });
}

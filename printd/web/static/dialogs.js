// Modal dialogs (native <dialog>: focus moves in, Esc closes, focus returns to the opener).
import { errorText } from './api.js';
import { focusByKey } from './dom.js';

export function openDialog(id, { setup, submit }) {
  const dialog = document.getElementById(id);
  const form = dialog.querySelector('form');
  const error = dialog.querySelector('.form-error');
  const button = form.querySelector('[type="submit"]');
  const openerKey = document.activeElement ? document.activeElement.dataset.key : null;
  form.reset();
  error.hidden = true;
  if (setup) setup(dialog);
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    button.disabled = true;
    try {
      await submit(new FormData(form));
      dialog.close();
    } catch (e) {
      error.textContent = errorText(e);
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  };
  for (const close of dialog.querySelectorAll('[data-close]')) close.onclick = () => dialog.close();
  dialog.addEventListener('close', () => focusByKey(openerKey), { once: true });
  dialog.showModal();
}

export function confirmDialog({ title, text, ok, action }) {
  openDialog('dlg-confirm', {
    setup: (dialog) => {
      dialog.querySelector('#dlg-confirm-title').textContent = title;
      dialog.querySelector('#dlg-confirm-text').textContent = text;
      dialog.querySelector('#dlg-confirm-ok').textContent = ok;
    },
    submit: action,
  });
}

// Ask first; resolves true once the person confirmed, false when the dialog closed without it.
export function confirmFirst({ title, text, ok }) {
  return new Promise((resolve) => {
    let confirmed = false;
    confirmDialog({ title, text, ok, action: async () => { confirmed = true; } });
    document.getElementById('dlg-confirm').addEventListener('close', () => resolve(confirmed), { once: true });
  });
}

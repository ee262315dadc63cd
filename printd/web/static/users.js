// Pengguna (admin only): the page's users, adding one, setting a password, disabling and enabling.
// Disabling ends the user's sessions and event streams at once (the daemon does it in the same call).
import { api, errorText } from './api.js';
import { confirmDialog } from './dialogs.js';
import { announce, h, replaceChildren } from './dom.js';
import { t } from './i18n.js';

let users = [];

function say(text, error = false) {
  const msg = document.getElementById('users-msg');
  msg.textContent = text;
  msg.classList.toggle('error-text', error);
  announce(text);
}

function toggle(user) {
  const action = user.disabled ? 'enable' : 'disable';
  const label = t(`users.${action}`);
  const run = async () => {
    const out = await api('POST', `/api/v1/users/${encodeURIComponent(user.name)}/${action}`);
    say(t(`users.done.${action}`, { name: user.name, n: out.sessions_ended || 0 }));
    await load();
  };
  const onclick = user.disabled
    ? () => run().catch((e) => say(errorText(e), true))
    : () => confirmDialog({
      title: t('users.disable.heading'), text: t('users.disable.text', { name: user.name }), ok: label, action: run,
    });
  return h('button', {
    type: 'button', class: 'small', 'data-key': `user:${user.name}:${action}`, 'data-action': action,
    'aria-label': t('users.action_for', { action: label, name: user.name }), onclick,
  }, label);
}

function render() {
  replaceChildren(document.getElementById('users-body'), users.map((u) => h('tr', { dataset: { user: u.name } },
    h('td', { class: 'name' }, u.name),
    h('td', {}, t(`role.${u.role}`)),
    h('td', {}, h('span', { class: `pill ${u.disabled ? 'state-canceled' : 'state-printed'}` },
      t(u.disabled ? 'users.disabled' : 'users.active'))),
    h('td', { class: 'actions' }, toggle(u)))));
  const select = document.getElementById('user-pw-name');
  const chosen = select.value;
  select.replaceChildren(...users.map((u) => h('option', { value: u.name }, u.name)));
  if (users.some((u) => u.name === chosen)) select.value = chosen;
}

async function load() {
  users = (await api('GET', '/api/v1/users')).items;
  render();
}

// A form whose fields go to the API as they are; the message under it says what happened.
function wire(id, send) {
  const form = document.getElementById(id);
  const msg = form.querySelector('.form-msg');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    if (!data.name || !data.password) {
      msg.textContent = t('users.field.required');
      msg.classList.add('error-text');
      return;
    }
    const button = form.querySelector('[type="submit"]');
    button.disabled = true;
    try {
      msg.textContent = await send(data);
      msg.classList.remove('error-text');
      form.querySelector('input[type="password"]').value = '';
      await load();
    } catch (e) {
      msg.textContent = errorText(e);
      msg.classList.add('error-text');
    } finally {
      button.disabled = false;
    }
  });
}

function setup() {
  wire('form-user-add', async (data) => {
    await api('POST', '/api/v1/users', { name: data.name, role: data.role, password: data.password });
    document.getElementById('user-add-name').value = '';
    return t('users.done.add', { name: data.name });
  });
  wire('form-user-password', async (data) => {
    await api('POST', `/api/v1/users/${encodeURIComponent(data.name)}/password`, { password: data.password });
    return t('users.done.password', { name: data.name });
  });
  document.addEventListener('printd:view', (ev) => {
    if (ev.detail === 'users') load().catch((e) => say(errorText(e), true));
  });
  if (window.location.hash === '#users') load().catch((e) => say(errorText(e), true));
}

setup();

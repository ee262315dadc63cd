// Live updates through Server-Sent Events. EventSource reconnects by itself when the daemon restarts;
// on every (re)connection the page loads the whole state again, since events sent while it was away
// are lost. A stream that ends with an error status (e.g. 401 after logout) is not retried by the
// browser, so it is checked and reopened here.
import { api } from './api.js';
import { t } from './i18n.js';

const TYPES = ['job', 'printer', 'stock', 'alert', 'resync', 'reader'];

export function startLive(handlers) {
  const indicator = document.getElementById('conn');
  let source = null;

  function show(stateName) {
    indicator.dataset.state = stateName;
    indicator.textContent = t(`conn.${stateName}`);
    document.body.dataset.conn = stateName;
  }

  function open() {
    source = new EventSource('/api/v1/events');
    source.addEventListener('open', () => {
      show('live');
      handlers.open();
    });
    // the daemon is stopping (a restart, an upgrade): the stream ends and EventSource reconnects by itself
    source.addEventListener('stopping', () => show('stopping'));
    source.addEventListener('error', () => {
      if (indicator.dataset.state !== 'stopping') show('down');
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(reopen, 3000);
      }
    });
    for (const type of TYPES) {
      source.addEventListener(type, (ev) => {
        let data = {};
        try { data = ev.data ? JSON.parse(ev.data) : {}; } catch (e) { return; }
        if (handlers[type]) handlers[type](data);
      });
    }
  }

  async function reopen() {
    try {
      await api('GET', '/api/v1/printers');   // a 401 sends the page to the login form
    } catch (e) {
      setTimeout(reopen, 3000);
      return;
    }
    source.close();
    open();
  }

  show('connecting');
  open();
}

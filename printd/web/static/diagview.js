// A printer's diagnostics for the technician, laid out like `printd diag NAME`: identity, link, state with
// the remedy for each reason, counters, supplies, recent errors (one per episode) and communication. The
// same document as GET /api/v1/printers/NAME/diagnostics; the page's language picks the remedy text.
import { h } from './dom.js';
import { config, fmtNum, fmtTime, t } from './i18n.js';

const v = (x) => (x === null || x === undefined || x === '' ? '—' : String(x));

function section(title, ...rows) {
  return h('section', { class: 'diag-section' }, h('h4', {}, title), ...rows);
}

function facts(pairs) {
  return h('dl', { class: 'diag-facts' },
    pairs.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, v(value))]));
}

function remedy(help) {
  if (!help) return null;
  const text = help[config.lang === 'en' ? 'en' : 'id'] || help.en;
  if (!text) return null;
  return h('div', { class: 'diag-remedy' },
    h('strong', {}, text.title),
    text.explanation ? h('p', {}, text.explanation) : null,
    text.remedy ? h('p', { class: 'diag-todo' }, `${t('diag.todo')}: ${text.remedy}`) : null);
}

export function renderDiagnostics(doc) {
  const id = doc.identity || {};
  const link = doc.link || {};
  const st = doc.state || {};
  const counters = doc.counters || {};
  const supplies = doc.supplies || {};
  const com = doc.communication || {};
  const ribbon = supplies.ribbon || {};
  const hopper = supplies.hopper || {};
  const reasons = (st.reasons || []).map((r) => h('li', { class: `diag-reason sev-${r.severity}` },
    h('code', {}, r.keyword), r.vendor_code ? ` (${r.vendor_code})` : '', remedy(r.help)));
  const errors = (doc.recent_errors || []).map((e) => h('li', { class: 'diag-error' },
    h('span', { class: 'muted' }, fmtTime(e.at)), ' ', h('code', {}, e.reason),
    e.vendor_code ? ` (${e.vendor_code})` : '', e.job_id ? ` · ${e.job_id}` : '',
    e.repeats > 1 ? ` · ${t('diag.repeats', { n: e.repeats, since: fmtTime(e.first_at) })}` : '',
    remedy(e.help)));
  return h('div', { class: 'diag-view' },
    section(t('diag.identity'), facts([
      [t('diag.model'), id.model], [t('diag.serial'), id.serial], [t('diag.firmware'), id.firmware],
      [t('diag.driver'), doc.driver], [t('diag.generated'), fmtTime(doc.generated_at)]])),
    section(t('diag.state'), facts([
      [t('diag.state'), st.state], [t('diag.online'), link.online ? t('diag.yes') : t('diag.no')],
      [t('diag.last_seen'), link.last_seen_at ? fmtTime(link.last_seen_at) : null],
      [t('diag.current_job'), st.current_job]]),
    reasons.length ? h('ul', { class: 'diag-list' }, reasons) : h('p', { class: 'muted' }, t('diag.no_reasons'))),
    section(t('diag.counters'), facts([
      [t('diag.total'), counters.total != null ? fmtNum(counters.total) : null],
      [t('diag.today'), counters.today != null ? fmtNum(counters.today) : null],
      [t('diag.since_cleaning'), counters.since_cleaning != null ? fmtNum(counters.since_cleaning) : null],
      [t('diag.ribbon'), ribbon.remaining != null ? `${ribbon.remaining} / ${v(ribbon.capacity)}` : null],
      [t('diag.hopper'), hopper.count != null ? `${hopper.count} (${v(hopper.card_type)})` : null]])),
    section(t('diag.errors'),
      errors.length ? h('ul', { class: 'diag-list' }, errors) : h('p', { class: 'muted' }, t('diag.no_errors'))),
    section(t('diag.communication'), facts([
      [t('diag.calls'), com.calls], [t('diag.error_ratio'),
        com.error_ratio != null ? `${(com.error_ratio * 100).toFixed(1)}%` : null],
      [t('diag.rtt'), com.rtt_ms_p50 != null ? `${com.rtt_ms_p50} / ${v(com.rtt_ms_p95)} ms` : null]])));
}

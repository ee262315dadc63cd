// Translations and the station's clock. Every string comes from i18n/<lang>.json (embedded in the
// page); every date and time is shown in the station's time zone (WIB by default), Indonesian style.

const strings = JSON.parse(document.getElementById('i18n').textContent);
export const config = JSON.parse(document.getElementById('page-config').textContent);

const locale = config.lang === 'id' ? 'id-ID' : 'en-GB';
const timeZone = config.timezone;

export function has(key) {
  return Object.prototype.hasOwnProperty.call(strings, key);
}

export function t(key, params = {}) {
  const text = has(key) ? strings[key] : key;
  return text.replace(/\{([a-z_]+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// The first of several keys that exists (e.g. a specific error code, then a generic one).
export function tFirst(keys, params = {}) {
  const key = keys.find(has);
  return key ? t(key, params) : null;
}

const timeFmt = new Intl.DateTimeFormat(locale, { timeZone, hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(locale, {
  timeZone, day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
});
const longDateFmt = new Intl.DateTimeFormat(locale, {
  timeZone, weekday: 'long', day: 'numeric', month: 'long', year: 'numeric',
});
// a calendar day (YYYY-MM-DD) names no instant: format it as that day, whatever the zone
const pureDayFmt = new Intl.DateTimeFormat(locale, {
  timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric',
});
const partsFmt = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
const numFmt = new Intl.NumberFormat(locale);
const decFmt = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });

// The station's day (YYYY-MM-DD) of an instant: "today" is the office's day, not the PC's.
export function stationDay(date = new Date()) {
  const parts = Object.fromEntries(partsFmt.formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

// "10.42 WIB" today, "28 Nov 10.42 WIB" on another day.
export function fmtTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  const fmt = stationDay(date) === stationDay() ? timeFmt : dateTimeFmt;
  return `${fmt.format(date)} ${config.tz_label}`;
}

export function fmtClock(date = new Date()) {
  return `${longDateFmt.format(date)} · ${timeFmt.format(date)} ${config.tz_label}`;
}

export function fmtDay(day) {
  return pureDayFmt.format(new Date(`${day}T12:00:00Z`));
}

export function fmtNum(n) {
  return n === null || n === undefined ? '—' : numFmt.format(n);
}

export function fmtDec(n) {
  return n === null || n === undefined ? '—' : decFmt.format(n);
}

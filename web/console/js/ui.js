// Small DOM helpers shared by the pages.

/**
 * Creates an element: `h('button', {class: 'x', onclick: fn}, 'text', child…)`.
 * Attributes starting with `on` become listeners; `null`/`false` children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// Times are shown and entered in the company's time zone (`[company] time_zone`, which
// `GET /api/v1/me` reports): the server counts days, reports and calling hours in it, and an
// operator may sit in another zone (a night shift in Moscow for a company in Vladivostok) or
// have a wrongly set computer clock zone. Until it is known, the browser's zone is used.
let zone;
let dateTime = formatter();

function formatter() {
  return new Intl.DateTimeFormat('ru-RU', {
    day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: zone,
  });
}

/** Sets the company's IANA time zone (`Asia/Vladivostok`); an unknown name is ignored. */
export function setTimeZone(name) {
  try {
    new Intl.DateTimeFormat('ru-RU', { timeZone: name });
  } catch (_) {
    return;
  }
  zone = name;
  dateTime = formatter();
}

/** The company's time zone (IANA name), or undefined while it is not known. */
export function timeZone() {
  return zone;
}

/** «30.11.2026, 14:05» in the company's time zone; '' for nothing. */
export function fmtDateTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '';
}

/** «14:05:09» in the company's time zone. */
export function fmtTime(d) {
  return new Date(d).toLocaleTimeString('ru-RU', { timeZone: zone });
}

/** The wall clock of instant `d` (Date or ms) in `tz` (default: the company's zone):
 *  { year, month (1–12), day, hour, minute, second }. */
function wall(d, tz = zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(d));
  const n = Object.fromEntries(parts.filter((p) => p.type !== 'literal').map((p) => [p.type, Number(p.value)]));
  return { year: n.year, month: n.month, day: n.day, hour: n.hour % 24, minute: n.minute, second: n.second };
}

const pad = (n) => String(n).padStart(2, '0');

/** `YYYY-MM-DD` (a `date` input's value) of instant `d` (default now) in the company's zone. */
export function zoneDate(d = Date.now()) {
  const w = wall(d);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}`;
}

/** `YYYY-MM-DDTHH:MM` (a `datetime-local` input's value) of instant `d` in zone `tz`
 *  (default: the company's). */
export function zoneInput(d, tz = zone) {
  const w = wall(d, tz);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** A `datetime-local` value read as a wall clock time in zone `tz` (default: the company's),
 *  as RFC 3339 UTC; null for ''. At a clock change the earlier of two readings is taken. */
export function zoneInputToIso(v, tz = zone) {
  if (!v) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(v);
  if (!m) return new Date(v).toISOString();
  const asUtc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  const offset = (t) => {
    const w = wall(t, tz);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(t / 1000) * 1000;
  };
  // The offset at the guess, then at the corrected guess (right across a clock change).
  let t = asUtc - offset(asUtc);
  t = asUtc - offset(t);
  return new Date(t).toISOString();
}

/** Shows a short message at the bottom of the screen; `kind` 'ok' or 'error'. */
export function toast(text, kind = 'ok') {
  for (const old of document.querySelectorAll('.toast')) old.remove();
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  document.body.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 3000);
}

/** An error box for a form or page. */
export function errorBox(text) {
  return h('div', { class: 'error', role: 'alert' }, text);
}

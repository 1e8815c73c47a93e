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

const dateTime = new Intl.DateTimeFormat('ru-RU', {
  day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit',
});

/** «30.11.2026, 14:05» in the browser's time zone; '' for nothing. */
export function fmtDateTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '';
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

// Пропущенные звонки: the callback work list. Overdue entries first (red), each with its
// recording, calls count and attempts; «Перезвонить» records an attempt's outcome with a
// comment (click-to-call is wired by the softphone later). Needs take_calls; the report link
// needs view_monitor.

import { h, fmtDateTime, toast, errorBox, zoneDate } from '../js/ui.js';
import { cardView } from '../js/card.js';

const OUTCOMES = [
  ['reached', 'Дозвонились'],
  ['no_answer', 'Не отвечает'],
  ['busy', 'Занято'],
  ['wrong_number', 'Неверный номер'],
];

const CLOSED = {
  reached: 'дозвонились',
  wrong_number: 'неверный номер',
  attempts_exhausted: 'попытки исчерпаны',
  called_again: 'перезвонил сам',
};

function phoneText(n) {
  return n || 'номер скрыт';
}

export async function render(root, { api, can }) {
  let status = 'open';
  const body = h('div', { id: 'missed-body' });
  const tabs = h('div', { class: 'tabs' },
    ...[['open', 'Ждут перезвона'], ['closed', 'Закрытые']].map(([code, title]) =>
      h('button', {
        class: code === status ? 'tab active' : 'tab',
        'data-status': code,
        onclick: (e) => {
          status = code;
          tabs.querySelectorAll('button').forEach((b) => b.classList.toggle('active', b === e.target));
          load();
        },
      }, title)));
  root.append(h('h2', {}, 'Пропущенные звонки'), tabs, body);
  if (can('view_monitor')) root.append(reportForm(api));

  async function load() {
    body.replaceChildren(h('p', { class: 'muted' }, 'Загрузка…'));
    let list;
    try {
      list = await api(`/api/v1/missed?status=${status}&limit=200`);
    } catch (e) {
      body.replaceChildren(errorBox(e.message));
      return;
    }
    if (!list.length) {
      body.replaceChildren(h('p', { class: 'muted', id: 'missed-empty' },
        status === 'open' ? 'Все перезвонены' : 'Закрытых нет'));
      return;
    }
    const rows = list.map((m) => row(m));
    body.replaceChildren(h('table', { class: 'list', id: 'missed' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Номер'), h('th', {}, 'Звонков'), h('th', {}, 'Последний'),
        h('th', {}, 'Причина'), h('th', {}, 'Перезвонить до'), h('th', {}, 'Попытки'),
        h('th', {}, 'Запись'), h('th', {}, ''))),
      h('tbody', {}, rows)));
  }

  function row(m) {
    const audio = m.recording_url
      ? h('audio', { controls: true, preload: 'none', src: m.recording_url })
      : h('span', { class: 'muted' }, 'нет записи');
    const state = m.status === 'open'
      ? (m.overdue ? h('span', { class: 'overdue' }, 'просрочено') : fmtDateTime(m.due_at))
      : (CLOSED[m.closed_as] || m.closed_as);
    const tr = h('tr', {
      class: m.overdue ? 'row-overdue' : `row-${m.status}`,
      'data-id': m.id,
      'data-number': m.number || '',
    },
    h('td', {}, h('a', { href: '#', onclick: (e) => { e.preventDefault(); showCard(m); } }, phoneText(m.number))),
    h('td', {}, m.calls),
    h('td', {}, fmtDateTime(m.last_at)),
    h('td', {}, m.reason_label),
    h('td', {}, state),
    h('td', {}, `${m.attempts}${m.last_outcome_label ? ` (${m.last_outcome_label})` : ''}`),
    h('td', {}, audio),
    h('td', {}, m.status === 'open'
      ? h('button', { class: 'callback', onclick: () => openForm(m, tr) }, 'Перезвонить')
      : null));
    return tr;
  }

  async function showCard(m) {
    if (!m.number) return;
    const box = h('div', { class: 'card-popup', id: 'caller-card' }, h('p', { class: 'muted' }, 'Загрузка…'));
    body.prepend(box);
    try {
      const card = await api(`/api/v1/card?phone=${encodeURIComponent(m.number)}`);
      box.replaceChildren(h('button', { class: 'close', onclick: () => box.remove() }, '×'), cardView(card));
    } catch (e) {
      box.replaceChildren(errorBox(e.message));
    }
  }

  function openForm(m, tr) {
    body.querySelectorAll('tr.attempt-form').forEach((r) => r.remove());
    const comment = h('input', { type: 'text', name: 'comment', placeholder: 'Комментарий', maxlength: 2000 });
    const err = h('span', { class: 'form-error' });
    const send = async (outcome) => {
      try {
        const r = await api(`/api/v1/missed/${m.id}/attempts`, {
          method: 'POST', body: { outcome, comment: comment.value },
        });
        toast(r.missed.status === 'closed' ? 'Звонок закрыт' : `Попытка записана: ${r.attempt.outcome_label}`);
        load();
      } catch (e) {
        err.textContent = e.message;
      }
    };
    // Click-to-call: the console's softphone dials the number (recorded like any call);
    // the operator then records the outcome with the buttons below.
    const dial = h('button', {
      id: 'missed-dial', class: 'primary', type: 'button',
      onclick: async () => {
        if (!window.zvonarPhone) { toast('Телефон недоступен', 'error'); return; }
        dial.disabled = true;
        const ok = await window.zvonarPhone.call(m.number, (cause) => {
          dial.disabled = false;
          err.textContent = cause ? `Звонок не состоялся: ${cause}` : '';
          form.dataset.called = cause || 'talked';
        });
        if (!ok) dial.disabled = false;
      },
    }, 'Позвонить');
    const form = h('tr', { class: 'attempt-form' }, h('td', { colspan: 8 },
      dial,
      h('span', {}, ` ${phoneText(m.number)}. Результат: `),
      ...OUTCOMES.map(([code, title]) => h('button', { 'data-outcome': code, onclick: () => send(code) }, title)),
      comment, err));
    tr.after(form);
    comment.focus();
  }

  await load();
}

function reportForm(api) {
  // «Today» is the company's (the server counts the report's days in its zone).
  const today = zoneDate();
  const from = h('input', { type: 'date', name: 'from', value: today });
  const to = h('input', { type: 'date', name: 'to', value: today });
  const out = h('div', { id: 'missed-report' });
  const show = async () => {
    try {
      const r = await api(`/api/v1/missed/report?from=${from.value}&to=${to.value}`);
      const mean = r.mean_time_to_callback_s == null ? '—' : `${Math.round(r.mean_time_to_callback_s / 60)} мин`;
      out.replaceChildren(h('table', { class: 'list' }, h('tbody', {},
        h('tr', {}, h('td', {}, 'Пропущено звонков'), h('td', {}, r.missed_calls)),
        h('tr', {}, h('td', {}, 'Номеров для перезвона'), h('td', {}, r.entries)),
        h('tr', {}, h('td', {}, 'Перезвонили вовремя / с опозданием / нет'),
          h('td', {}, `${r.called_back_in_time} / ${r.called_back_late} / ${r.not_called_back}`)),
        h('tr', {}, h('td', {}, 'Среднее время до перезвона'), h('td', {}, mean)))));
    } catch (e) {
      out.replaceChildren(errorBox(e.message));
    }
  };
  const csv = h('a', { href: '#', onclick: (e) => {
    e.preventDefault();
    window.location.href = `/api/v1/missed/report?from=${from.value}&to=${to.value}&format=csv`;
  } }, 'CSV');
  return h('section', { class: 'report' }, h('h3', {}, 'Отчёт за период'),
    h('label', {}, 'с ', from), h('label', {}, ' по ', to),
    h('button', { onclick: show }, 'Показать'), ' ', csv, out);
}

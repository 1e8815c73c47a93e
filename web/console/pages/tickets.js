// Заявки: the ticket journal (the list the caller's visibility allows).

import { h, fmtDateTime } from '../js/ui.js';

const STATUS = { new: 'новая', in_progress: 'в работе', done: 'выполнена', closed: 'закрыта', cancelled: 'отменена' };

export async function render(root, { api }) {
  const list = await api('/api/v1/tickets?limit=50');
  const rows = list.map((t) => h('tr', { class: `row-${t.status}` },
    h('td', {}, t.number),
    h('td', {}, fmtDateTime(t.created_at)),
    h('td', {}, t.topic, t.emergency ? h('span', { class: 'emergency' }, ' авария') : null),
    h('td', {}, t.description),
    h('td', {}, h('span', { class: `st st-${t.status}` }, STATUS[t.status] || t.status))));
  root.append(h('h2', {}, 'Заявки'),
    h('table', { class: 'list', id: 'tickets' },
      h('thead', {}, h('tr', {}, h('th', {}, '№'), h('th', {}, 'Создана'), h('th', {}, 'Тема'), h('th', {}, 'Описание'), h('th', {}, 'Статус'))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'Заявок нет')))));
}

// График дежурств: who the robot calls for an emergency ticket of each department, by day
// and hour, in order, then the department's supervisor. Loaded from a CSV file (the server
// checks every line and stores nothing when one is bad). Needs manage_duty.

import { h, toast, errorBox } from '../js/ui.js';

const DAYS = ['пн', 'вт', 'ср', 'чт', 'пт', 'сб', 'вс'];

function dayList(days) {
  if (days.length === 7) return 'ежедневно';
  return days.map((d) => DAYS[d - 1]).join(', ');
}

function hours(s) {
  if (s.start === s.end) return `круглосуточно с ${s.start}`;
  return `${s.start}–${s.end}${s.end < s.start ? ' (до утра)' : ''}`;
}

function rosterCard(name, r) {
  const shifts = r ? [...r.shifts].sort((a, b) => a.order - b.order) : [];
  const card = h('div', { class: 'card roster', dataset: { department: name } }, h('h3', {}, name));
  if (!shifts.length && !(r && r.supervisor)) {
    card.append(h('p', { class: 'muted' }, 'График не задан: по аварийным заявкам отдела звонить некому.'));
    return card;
  }
  card.append(h('table', { class: 'list' },
    h('thead', {}, h('tr', {}, ['Очередь', 'Дни', 'Часы', 'Сотрудник', 'Телефон'].map((x) => h('th', {}, x)))),
    h('tbody', {},
      shifts.map((s) => h('tr', {},
        h('td', {}, String(s.order)), h('td', {}, dayList(s.days)), h('td', {}, hours(s)),
        h('td', {}, s.name), h('td', {}, s.phone))),
      r && r.supervisor ? h('tr', { class: 'supervisor' },
        h('td', {}, 'последним'), h('td', {}, '—'), h('td', {}, '—'),
        h('td', {}, `${r.supervisor.name} (руководитель)`), h('td', {}, r.supervisor.phone)) : null)));
  return card;
}

export async function render(root, ctx) {
  const data = await ctx.api('/api/v1/duty/rosters');
  const byDept = new Map(data.rosters.map((r) => [r.department, r]));
  const names = [...new Set([...data.departments, ...byDept.keys()])];
  const file = h('input', { type: 'file', id: 'roster-file', accept: '.csv,text/csv' });
  const err = h('div', { id: 'roster-errors' });
  const upload = h('button', { id: 'roster-upload', class: 'primary', onclick: async () => {
    err.replaceChildren();
    const f = file.files[0];
    if (!f) {
      err.append(errorBox('Выберите файл CSV'));
      return;
    }
    try {
      const r = await ctx.api('/api/v1/duty/rosters/import', { method: 'POST', body: f });
      toast(`График загружен: ${r.imported.join(', ')}`);
      root.replaceChildren();
      await render(root, ctx);
    } catch (e) {
      err.append(errorBox(e.message));
    }
  } }, 'Загрузить график');
  root.append(
    h('div', { class: 'page-head' }, h('h2', {}, 'График дежурств')),
    h('div', { class: 'card' }, h('h3', {}, 'Загрузка из CSV'),
      h('p', { class: 'muted' },
        'Столбцы: department;days;start;end;order;user_id;name;phone. Дни: «пн-пт», «сб/вс», «все»; ',
        'часы ЧЧ:ММ (смена может переходить через полночь); телефон: account:101 (SIP-учётная запись), ',
        'номер или sip:-адрес; строка с order = supervisor — руководитель отдела, ему звонят последним. ',
        'Отделы из файла заменяются целиком.'),
      h('div', { class: 'actions' }, file, upload), err),
    ...(names.length ? names.map((n) => rosterCard(n, byDept.get(n))) : [h('p', { class: 'muted' }, 'Отделов пока нет.')]));
}

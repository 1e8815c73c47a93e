// Аварии и отключения: active and planned outages; dispatchers (manage_outages) register one
// on chosen buildings or a whole street, change its expected end and close it. The robot
// announces an outage on the next call from those buildings and stops once it is closed.

import { h, fmtDateTime, toast, errorBox, zoneInput, zoneInputToIso } from '../js/ui.js';

const STATE = { active: 'действует', planned: 'запланировано', ended: 'закончено' };

// Times are entered and shown in the company's time zone (ui.js), as the robot announces them.

export async function render(root, { api, can }) {
  const manage = can('manage_outages');
  let filter = 'current';
  const listBox = h('div', { id: 'outages-body' });
  const filterSel = h('select', { name: 'state', onchange: (e) => { filter = e.target.value; load(); } },
    h('option', { value: 'current' }, 'Действующие и запланированные'),
    h('option', { value: 'active' }, 'Только действующие'),
    h('option', { value: 'planned' }, 'Только запланированные'),
    h('option', { value: 'recent' }, 'Включая закончившиеся за неделю'));
  root.append(h('h2', {}, 'Аварии и отключения'));
  if (manage) root.append(await newForm(api, () => load()));
  root.append(h('div', { class: 'toolbar' }, filterSel), listBox);

  async function load() {
    let list;
    try {
      list = await api(`/api/v1/outages?state=${filter}`);
    } catch (e) {
      listBox.replaceChildren(errorBox(e.message));
      return;
    }
    if (!list.length) {
      listBox.replaceChildren(h('p', { class: 'muted', id: 'outages-empty' }, 'Отключений нет'));
      return;
    }
    listBox.replaceChildren(h('table', { class: 'list', id: 'outages' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Что'), h('th', {}, 'Где'), h('th', {}, 'С'),
        h('th', {}, 'До'), h('th', {}, 'Текст'), h('th', {}, 'Состояние'), h('th', {}, ''))),
      h('tbody', {}, list.map(row))));
  }

  function row(n) {
    const where = n.street ? `${n.street} (вся улица)` : n.buildings.map((b) => b.address).join('; ');
    const actions = [];
    if (manage && n.state !== 'ended') {
      const end = h('input', { type: 'datetime-local', name: 'ends_at', value: n.ends_at ? zoneInput(n.ends_at) : '' });
      actions.push(end,
        h('button', { class: 'change-end', onclick: async () => {
          try {
            await api(`/api/v1/outages/${n.id}`, { method: 'PATCH', body: { ends_at: zoneInputToIso(end.value) } });
            toast('Окончание изменено');
            load();
          } catch (e) { toast(e.message, 'error'); }
        } }, 'Изменить окончание'),
        h('button', { class: 'close-outage', onclick: async () => {
          try {
            await api(`/api/v1/outages/${n.id}/close`, { method: 'POST' });
            toast('Отключение закрыто: робот больше о нём не сообщает');
            load();
          } catch (e) { toast(e.message, 'error'); }
        } }, 'Закрыть'));
    }
    return h('tr', { class: `outage-${n.state}`, 'data-id': n.id },
      h('td', {}, n.resource_label || n.kind),
      h('td', {}, where),
      h('td', {}, fmtDateTime(n.starts_at)),
      h('td', {}, n.ends_at ? fmtDateTime(n.ends_at) : 'не известно'),
      h('td', {}, n.text),
      h('td', {}, STATE[n.state] || n.state),
      h('td', {}, actions));
  }

  await load();
}

async function newForm(api, reload) {
  const [resources, buildings] = await Promise.all([
    api('/api/v1/outages/resources'), api('/api/v1/buildings'),
  ]);
  const resource = h('select', { name: 'resource', required: true },
    resources.map((r) => h('option', { value: r.code }, r.label)));
  const streets = [...new Set(buildings.map((b) => b.street))];
  const scope = h('select', { name: 'scope' },
    h('option', { value: 'buildings' }, 'Выбранные дома'),
    h('option', { value: 'street' }, 'Вся улица'));
  const street = h('select', { name: 'street', hidden: true }, streets.map((s) => h('option', { value: s }, s)));
  const boxes = h('div', { class: 'building-list' }, buildings.map((b) =>
    h('label', {}, h('input', { type: 'checkbox', name: 'building', value: b.id }), ` ${b.address}`)));
  scope.addEventListener('change', () => {
    const whole = scope.value === 'street';
    street.hidden = !whole;
    boxes.hidden = whole;
  });
  const starts = h('input', { type: 'datetime-local', name: 'starts_at', value: zoneInput(Date.now()) });
  const ends = h('input', { type: 'datetime-local', name: 'ends_at' });
  const text = h('textarea', { name: 'text', rows: 2, maxlength: 2000, placeholder: 'Причина, что делать жителям' });
  const err = h('div', { class: 'form-error' });
  const form = h('form', { id: 'new-outage', class: 'panel' },
    h('h3', {}, 'Новое отключение'),
    h('label', {}, 'Что отключено ', resource),
    h('label', {}, ' Где ', scope), street, boxes,
    h('label', {}, 'Начало ', starts), h('label', {}, ' Ожидаемое окончание ', ends),
    text, err, h('button', { type: 'submit' }, 'Зарегистрировать'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const body = { resource: resource.value, starts_at: zoneInputToIso(starts.value), ends_at: zoneInputToIso(ends.value), text: text.value };
    if (scope.value === 'street') body.street = street.value;
    else body.building_ids = [...boxes.querySelectorAll('input:checked')].map((c) => Number(c.value));
    try {
      await api('/api/v1/outages', { method: 'POST', body });
      toast('Отключение зарегистрировано: робот сообщит о нём со следующего звонка');
      form.reset();
      starts.value = zoneInput(Date.now());
      reload();
    } catch (e2) {
      err.textContent = e2.message;
    }
  });
  return form;
}

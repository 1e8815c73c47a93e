// Заявки: the journal (filters, colours, pages, CSV/XLSX export), a new ticket
// (`#/tickets/new`, or `#/tickets/new/<call id>` during a call) and the ticket card
// (`#/tickets/<id>`: details, recording, actions by permission, comments, photos).

import { h, fmtDateTime, toast, errorBox } from '../js/ui.js';
import { escalationCard, unansweredBanner } from './duty.js';

export const STATUS = {
  new: 'новая', in_progress: 'в работе', done: 'выполнена', closed: 'закрыта', cancelled: 'отменена',
};
const PAGE = 50;
const WORKS = ['create_tickets', 'transfer_tickets', 'complete_tickets', 'close_tickets'];

// Filters survive going to a card and back.
const filters = { from: '', to: '', building_id: '', topic: '', executor_id: '', status: '', offset: 0 };

function statusBadge(t) {
  const key = t.overdue ? 'overdue' : t.status;
  const text = t.overdue ? 'просрочена' : (STATUS[t.status] || t.status);
  return h('span', { class: `st st-${key}` }, text);
}

function topicSelect(meta, value, attrs = {}) {
  const groups = new Map();
  for (const t of meta.topics) {
    if (!groups.has(t.group)) groups.set(t.group, []);
    groups.get(t.group).push(t);
  }
  return h('select', attrs,
    attrs.required ? h('option', { value: '' }, '— выберите тему —') : h('option', { value: '' }, 'все темы'),
    [...groups].map(([g, list]) => h('optgroup', { label: g },
      list.map((t) => h('option', { value: t.code, selected: t.code === value }, t.name)))));
}

function buildingSelect(meta, value, attrs = {}) {
  if (!meta.buildings.length) {
    return h('input', { type: 'number', min: 1, value: value || '', placeholder: 'id дома', ...attrs });
  }
  return h('select', attrs, h('option', { value: '' }, attrs.required ? '— дом —' : 'все дома'),
    meta.buildings.map((b) => h('option', { value: b.id, selected: String(b.id) === String(value) }, b.address)));
}

function address(meta, t) {
  if (!t.building_id) return '';
  const b = meta.buildings.find((x) => x.id === t.building_id);
  const a = b ? b.address : `дом ${t.building_id}`;
  return t.apartment ? `${a}, кв. ${t.apartment}` : a;
}

function topicName(meta, code) {
  const t = meta.topics.find((x) => x.code === code);
  return t ? t.name : code;
}

function query(extra = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...filters, ...extra })) {
    if (v !== '' && v !== null && v !== undefined && k !== 'offset') q.set(k, v);
  }
  return q;
}

export async function render(root, ctx) {
  const meta = await ctx.api('/api/v1/ticket-meta');
  const [first, second] = ctx.params;
  if (first === 'new') return renderNew(root, ctx, meta, second || '');
  if (first) return renderCard(root, ctx, meta, first);
  return renderJournal(root, ctx, meta);
}

async function renderJournal(root, ctx, meta) {
  const f = {
    from: h('input', { type: 'date', id: 'f-from', value: filters.from }),
    to: h('input', { type: 'date', id: 'f-to', value: filters.to }),
    building_id: buildingSelect(meta, filters.building_id, { id: 'f-building' }),
    topic: topicSelect(meta, filters.topic, { id: 'f-topic' }),
    executor_id: h('select', { id: 'f-executor' }, h('option', { value: '' }, 'все исполнители'),
      meta.executors.map((e) => h('option', { value: e.id, selected: String(e.id) === filters.executor_id }, e.name))),
    status: h('select', { id: 'f-status' }, h('option', { value: '' }, 'все статусы'),
      Object.entries(STATUS).map(([k, v]) => h('option', { value: k, selected: k === filters.status }, v)),
      h('option', { value: 'overdue', selected: filters.status === 'overdue' }, 'просроченные')),
  };
  const table = h('tbody');
  const info = h('span', { class: 'muted', id: 'total' });
  const prev = h('button', { type: 'button', id: 'prev' }, '← Назад');
  const next = h('button', { type: 'button', id: 'next' }, 'Вперёд →');
  const xlsx = h('a', { id: 'export-xlsx', class: 'button', download: '' }, 'Выгрузить XLSX');
  const csv = h('a', { id: 'export-csv', class: 'button', download: '' }, 'CSV');
  const err = h('div');

  async function load() {
    err.replaceChildren();
    const q = query();
    xlsx.href = `/api/v1/tickets/export?${query({ format: 'xlsx' })}`;
    csv.href = `/api/v1/tickets/export?${query({ format: 'csv' })}`;
    q.set('limit', PAGE);
    q.set('offset', filters.offset);
    let resp;
    try {
      resp = await ctx.api(`/api/v1/tickets?${q}`, { raw: true });
    } catch (e) {
      err.append(errorBox(e.message));
      return;
    }
    const list = await resp.json();
    const total = Number(resp.headers.get('X-Total-Count') || list.length);
    table.replaceChildren(...(list.length ? list.map((t) => h('tr', {
      class: `clickable row-${t.overdue ? 'overdue' : t.status}`,
      dataset: { id: t.id },
      onclick: () => ctx.navigate('tickets', t.id),
    },
    h('td', {}, h('a', { href: `#/tickets/${t.id}` }, t.number)),
    h('td', {}, fmtDateTime(t.created_at)),
    h('td', { class: t.overdue ? 'emergency' : '' }, fmtDateTime(t.due_at)),
    h('td', {}, topicName(meta, t.topic), t.emergency ? h('span', { class: 'emergency' }, ' авария') : null),
    h('td', {}, address(meta, t)),
    h('td', { class: 'desc' }, t.description.length > 80 ? t.description.slice(0, 80) + '…' : t.description),
    h('td', {}, [t.department, t.executor].filter(Boolean).join(' / ')),
    h('td', {}, statusBadge(t)))) : [h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'Заявок не найдено'))]));
    const end = Math.min(filters.offset + list.length, total);
    info.textContent = total ? `${filters.offset + 1}–${end} из ${total}` : '0 заявок';
    prev.disabled = filters.offset === 0;
    next.disabled = end >= total;
  }

  const form = h('form', { class: 'filters', id: 'filters' },
    h('label', {}, 'С даты', f.from), h('label', {}, 'По дату', f.to),
    h('label', {}, 'Дом', f.building_id), h('label', {}, 'Тема', f.topic),
    meta.executors.length ? h('label', {}, 'Исполнитель', f.executor_id) : null,
    h('label', {}, 'Статус', f.status),
    h('button', { type: 'submit', class: 'primary', id: 'apply' }, 'Найти'),
    h('button', { type: 'button', id: 'reset', onclick: () => {
      Object.assign(filters, { from: '', to: '', building_id: '', topic: '', executor_id: '', status: '', offset: 0 });
      for (const el of Object.values(f)) el.value = '';
      load();
    } }, 'Сбросить'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const [k, el] of Object.entries(f)) filters[k] = el.value;
    filters.offset = 0;
    load();
  });
  prev.addEventListener('click', () => { filters.offset = Math.max(0, filters.offset - PAGE); load(); });
  next.addEventListener('click', () => { filters.offset += PAGE; load(); });

  root.append(
    h('div', { class: 'page-head' }, h('h2', {}, 'Заявки'),
      ctx.can('create_tickets') ? h('a', { class: 'button primary', href: '#/tickets/new', id: 'new-ticket' }, 'Новая заявка') : null),
    (await unansweredBanner(ctx)) || '', form, err,
    h('table', { class: 'list', id: 'tickets' },
      h('thead', {}, h('tr', {}, ['№', 'Создана', 'Срок', 'Тема', 'Адрес', 'Описание', 'Отдел / исполнитель', 'Статус'].map((x) => h('th', {}, x)))),
      table),
    h('div', { class: 'pager' }, prev, next, info, h('span', { class: 'spacer' }), xlsx, csv));
  await load();
}

function renderNew(root, ctx, meta, callId) {
  const err = h('div', { class: 'form-error' });
  const sla = h('span', { class: 'muted', id: 'sla' });
  const topic = topicSelect(meta, '', { id: 't-topic', required: true });
  const emergency = h('input', { type: 'checkbox', id: 't-emergency' });
  const building = buildingSelect(meta, '', { id: 't-building' });
  const apartment = h('input', { id: 't-apartment', maxlength: 20 });
  const caller = h('input', { id: 't-caller', type: 'tel', placeholder: '+7…' });
  const description = h('textarea', { id: 't-description', rows: 4 });
  const call = h('input', { id: 't-call', value: callId, placeholder: 'если заявка по звонку' });
  const showSla = () => {
    const t = meta.topics.find((x) => x.code === topic.value);
    sla.textContent = t ? `Срок выполнения: ${emergency.checked ? t.emergency_sla_hours : t.sla_hours} ч` : '';
  };
  topic.addEventListener('change', showSla);
  emergency.addEventListener('change', showSla);
  const submit = h('button', { type: 'submit', class: 'primary', id: 't-submit' }, 'Создать заявку');
  const form = h('form', { class: 'card form', id: 'new-ticket-form' },
    h('label', { for: 't-topic' }, 'Тема'), h('div', {}, topic, ' ', sla),
    h('label', { for: 't-emergency' }, 'Аварийная'), h('div', {}, emergency),
    h('label', { for: 't-building' }, 'Дом'), building,
    h('label', { for: 't-apartment' }, 'Квартира'), apartment,
    h('label', { for: 't-caller' }, 'Телефон'), caller,
    h('label', { for: 't-description' }, 'Описание'), description,
    h('label', { for: 't-call' }, 'Звонок'), call,
    h('div', { class: 'full' }, err),
    h('div', { class: 'full actions' }, submit, h('a', { href: '#/tickets' }, 'Отмена')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.replaceChildren();
    if (!topic.value) { err.append(errorBox('Выберите тему')); return; }
    submit.disabled = true;
    try {
      const t = await ctx.api('/api/v1/tickets', {
        method: 'POST',
        body: {
          topic: topic.value,
          emergency: emergency.checked,
          building_id: building.value ? Number(building.value) : null,
          apartment: apartment.value || null,
          caller: caller.value || null,
          description: description.value,
          call_id: call.value || null,
        },
      });
      toast(`Заявка № ${t.number} создана`);
      ctx.navigate('tickets', t.id);
    } catch (ex) {
      err.append(errorBox(ex.message));
    } finally {
      submit.disabled = false;
    }
  });
  root.append(h('h2', {}, 'Новая заявка'), form);
}

async function renderCard(root, ctx, meta, id) {
  const d = await ctx.api(`/api/v1/tickets/${encodeURIComponent(id)}`);
  const t = d.ticket;
  const reload = () => { root.replaceChildren(); return renderCard(root, ctx, meta, id); };
  const act = async (path, body, done) => {
    try {
      await ctx.api(`/api/v1/tickets/${t.id}/${path}`, { method: path === 'topic' ? 'PUT' : 'POST', body });
      toast(done);
      await reload();
    } catch (e) {
      toast(e.message, 'error');
    }
  };
  const open = !['closed', 'cancelled'].includes(t.status);
  const row = (k, v) => [h('div', { class: 'k' }, k), h('div', { class: 'v' }, v || '—')];
  const details = h('div', { class: 'card' }, h('div', { class: 'kv' },
    row('Создана', fmtDateTime(t.created_at) + (t.created_by ? ` (${t.created_by})` : ' (робот)')),
    row('Срок', h('span', { class: t.overdue ? 'emergency' : '' }, fmtDateTime(t.due_at), t.overdue ? ' — просрочена' : '')),
    row('Тема', topicName(meta, t.topic)),
    row('Адрес', address(meta, t)),
    row('Телефон', t.caller
      ? h('span', {}, t.caller, ' ', ctx.can('take_calls') ? h('button', {
        id: 'ticket-dial', class: 'small', type: 'button',
        // Click-to-call: the console's softphone dials the resident (recorded like any call).
        onclick: () => (window.zvonarPhone ? window.zvonarPhone.call(t.caller) : toast('Телефон недоступен', 'error')),
      }, 'Позвонить') : '')
      : null),
    row('Описание', t.description),
    row('Отдел', t.department),
    row('Исполнитель', t.executor),
    row('Результат', t.result)));

  const actions = h('div', { class: 'card', id: 'actions' }, h('h3', {}, 'Действия'));
  if (open && t.status === 'new' && (ctx.can('transfer_tickets') || ctx.can('complete_tickets'))) {
    actions.append(h('div', { class: 'actions' }, h('button', { id: 'take', onclick: () => act('status', { status: 'in_progress' }, 'Заявка в работе') }, 'Взять в работу')));
  }
  if (open && ctx.can('transfer_tickets')) {
    const dep = h('select', { id: 'a-department' }, h('option', { value: '' }, '— отдел —'),
      meta.departments.map((x) => h('option', { value: x, selected: x === t.department }, x)));
    const ex = h('select', { id: 'a-executor' }, h('option', { value: '' }, '— исполнитель —'),
      meta.executors.map((x) => h('option', { value: x.id, selected: x.id === t.executor_id }, x.name)));
    actions.append(h('div', { class: 'actions' }, dep, ex, h('button', { id: 'assign', onclick: () => act('assign', {
      department: dep.value || null, executor_id: ex.value ? Number(ex.value) : null,
    }, 'Заявка передана') }, t.department || t.executor ? 'Передать' : 'Назначить')));
  }
  if (open && t.status !== 'done' && ctx.can('complete_tickets')) {
    const result = h('input', { id: 'c-result', placeholder: 'что сделано', size: 40 });
    actions.append(h('div', { class: 'actions' }, result, h('button', { id: 'complete', onclick: () => act('complete', { result: result.value }, 'Заявка выполнена') }, 'Выполнена')));
  }
  if (open && ctx.can('close_tickets')) {
    actions.append(h('div', { class: 'actions' }, h('button', { id: 'close', onclick: () => act('close', undefined, 'Заявка закрыта') }, 'Закрыть заявку')));
  }
  if (open && ctx.can('change_ticket_topic')) {
    const topic = topicSelect(meta, t.topic, { id: 'ch-topic' });
    actions.append(h('div', { class: 'actions' }, topic, h('button', { id: 'change-topic', onclick: () => topic.value && act('topic', { topic: topic.value }, 'Тема изменена') }, 'Сменить тему')));
  }
  if (actions.children.length === 1) actions.append(h('p', { class: 'muted' }, open ? 'Нет доступных действий.' : 'Заявка закрыта.'));

  const media = h('div', { class: 'card' }, h('h3', {}, 'Запись звонка'));
  if (t.call_id && ctx.can('listen_recordings')) {
    media.append(h('audio', { controls: true, preload: 'metadata', id: 'recording', src: `/api/v1/calls/${encodeURIComponent(t.call_id)}/recording` }));
  } else {
    media.append(h('p', { class: 'muted' }, t.call_id ? 'Нет права слушать записи.' : 'Заявка без звонка.'));
  }

  const r = d.rating;
  const SOURCES = { voice: 'голосом по телефону', keys: 'кнопками телефона', api: 'в приложении жителя' };
  const rating = h('div', { class: 'card', id: 'rating' }, h('h3', {}, 'Оценка жителя'));
  if (r) {
    rating.append(h('div', { class: 'kv' },
      row('Оценка', h('strong', { id: 'rating-value' }, `${r.value} из 5`)),
      row('Как', SOURCES[r.source] || r.source),
      row('Когда', fmtDateTime(r.at)),
      row('Комментарий', r.comment),
      row('Контроль качества', r.qc_ticket_id ? h('a', { href: `#/tickets/${r.qc_ticket_id}`, id: 'rating-qc' }, `заявка № ${r.qc_ticket_number}`) : null),
      row('Возвращена в работу', r.reopened ? 'да' : 'нет')));
    if (r.call_id && ctx.can('listen_recordings')) {
      rating.append(h('audio', { controls: true, preload: 'none', id: 'rating-recording', src: `/api/v1/calls/${encodeURIComponent(r.call_id)}/recording` }));
    }
  } else {
    rating.append(h('p', { class: 'muted' }, 'Оценки нет.'));
  }

  const works = WORKS.some(ctx.can);
  const comments = h('div', { class: 'card', id: 'comments' }, h('h3', {}, 'Комментарии'),
    d.comments.length ? d.comments.map((c) => h('div', { class: 'comment' },
      h('span', { class: 'muted' }, `${fmtDateTime(c.at)} ${c.author}: `), c.text)) : h('p', { class: 'muted' }, 'Нет комментариев'));
  if (works) {
    const text = h('textarea', { id: 'comment-text', rows: 2 });
    comments.append(h('div', { class: 'actions' }, text, h('button', { id: 'add-comment', onclick: () => text.value.trim() && act('comments', { text: text.value }, 'Комментарий добавлен') }, 'Добавить')));
  }
  const photos = h('div', { class: 'card', id: 'photos' }, h('h3', {}, 'Фото'),
    h('div', { class: 'thumbs' }, d.photos.map((p) => {
      const src = `/api/v1/tickets/${t.id}/photos/${p.id}`;
      return h('a', { href: src, target: '_blank', rel: 'noopener' }, h('img', { src, alt: p.name || 'фото', loading: 'lazy' }));
    })));
  if (works) {
    const file = h('input', { type: 'file', id: 'photo-file', accept: 'image/jpeg,image/png,image/webp' });
    file.addEventListener('change', async () => {
      const f = file.files[0];
      if (!f) return;
      if (f.size > meta.photo_max_bytes) {
        toast(`Фото больше ${Math.floor(meta.photo_max_bytes / 1048576)} МиБ`, 'error');
        return;
      }
      try {
        await ctx.api(`/api/v1/tickets/${t.id}/photos?name=${encodeURIComponent(f.name)}`, { method: 'POST', body: f });
        toast('Фото добавлено');
        await reload();
      } catch (e) {
        toast(e.message, 'error');
      }
    });
    photos.append(h('label', {}, 'Прикрепить фото (JPEG, PNG, WebP): ', file));
  }

  root.append(
    h('div', { class: 'page-head' },
      h('h2', {}, `Заявка № ${t.number} `, statusBadge(t), t.emergency ? h('span', { class: 'emergency' }, ' аварийная') : null),
      h('a', { href: '#/tickets' }, '← к журналу')),
    h('div', { class: 'grid2' }, h('div', {}, details, media), h('div', {}, escalationCard(d.escalation, ctx, act), actions, rating, comments, photos)));
}

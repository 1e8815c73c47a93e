// Обзвоны (issue 8): outbound campaigns for users with manage_campaigns.
//   #/campaigns      the campaigns with state and totals, and the form of a new one: name, kind,
//                    recipients (from the registry by building/district/debt, with the preview
//                    of who is called and who is skipped and why, or an uploaded CSV list), the
//                    message from a stored template or edited here with the robot's spoken
//                    preview, the optional question (1 — confirm, 2 — operator/callback, 9 — do
//                    not call again), schedule, pacing and retries. It creates a draft.
//   #/campaigns/ID   one campaign: start / pause / resume / cancel, totals, the per-recipient
//                    table (status, attempts, SIP code, key, skip reason, the recording),
//                    refreshed while it runs; CSV and XLSX download.
// API: /api/v1/campaigns…, /api/v1/campaigns/templates…, /api/v1/campaigns/recipients.

import { h, fmtDateTime, toast, errorBox, timeZone, zoneInput, zoneInputToIso } from '../js/ui.js';

const STATE = {
  draft: 'черновик', running: 'идёт', paused: 'приостановлена',
  cancelled: 'отменена', finished: 'завершена',
};
const DEFAULT_QUESTION = 'Если вы поняли сообщение, нажмите один. Чтобы поговорить с оператором или оставить просьбу перезвонить, нажмите два. Чтобы мы больше не звонили вам, нажмите девять.';
const REFRESH_MS = 2000;

/** The IANA zone `name` if the browser knows it, else the company's (ui.js). */
function knownZone(name) {
  try {
    new Intl.DateTimeFormat('ru-RU', { timeZone: name });
    return name;
  } catch (_) {
    return timeZone();
  }
}

function pct(v) {
  return `${Number(v || 0).toLocaleString('ru-RU')} %`;
}

export async function render(root, ctx) {
  if (ctx.params[0]) return detail(root, ctx, Number(ctx.params[0]));
  return overview(root, ctx);
}

// ---------------------------------------------------------------------------------------------
// The list and the new campaign's form.

async function overview(root, ctx) {
  const { api, navigate } = ctx;
  const listBox = h('div', { id: 'campaigns-body' });
  const formBox = h('div', { id: 'campaign-form-box', hidden: true });
  const newBtn = h('button', { id: 'new-campaign', class: 'primary', onclick: async () => {
    formBox.hidden = !formBox.hidden;
    if (!formBox.hidden && !formBox.firstChild) formBox.append(await newForm(ctx));
  } }, 'Новая кампания');
  root.append(h('div', { class: 'page-head' }, h('h2', {}, 'Обзвоны'), newBtn), formBox, listBox);

  let data;
  try {
    data = await api('/api/v1/campaigns');
  } catch (e) {
    listBox.replaceChildren(errorBox(e.message));
    return;
  }
  const list = [...data.campaigns].reverse();
  if (!list.length) {
    listBox.replaceChildren(h('p', { class: 'muted', id: 'campaigns-empty' }, 'Кампаний ещё нет.'));
    formBox.hidden = false;
    formBox.append(await newForm(ctx));
    return;
  }
  listBox.replaceChildren(h('table', { class: 'list', id: 'campaigns' },
    h('thead', {}, h('tr', {}, ['№', 'Название', 'Тип', 'Состояние', 'Получателей', 'Дозвон', 'Дослушали', 'Подтвердили']
      .map((c) => h('th', {}, c)))),
    h('tbody', {}, list.map((c) => h('tr', {
      class: 'clickable', dataset: { id: c.id, state: c.state },
      onclick: () => navigate('campaigns', c.id),
    },
    h('td', {}, c.id), h('td', {}, c.name), h('td', {}, c.debt ? 'долги' : 'информирование'),
    h('td', { class: `cs cs-${c.state}` }, STATE[c.state] || c.state),
    h('td', {}, c.totals.recipients), h('td', {}, pct(c.totals.reached_pct)),
    h('td', {}, pct(c.totals.listened_pct)), h('td', {}, pct(c.totals.confirmed_pct)))))));
}

/** Parses a recipients' CSV (`;` or `,`, a header row): phone is required. */
export function parseRecipients(text) {
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  if (!lines.length) return { rows: [], problems: ['список пуст'] };
  const sep = lines[0].includes(';') ? ';' : ',';
  const names = {
    phone: ['phone', 'телефон'], fio: ['fio', 'фио'], account: ['account', 'лс', 'лицевой счёт', 'лицевой счет'],
    address: ['address', 'адрес'], debt: ['debt', 'долг'], due_date: ['due_date', 'срок', 'оплатить до'],
    period: ['period', 'период'], consent: ['consent', 'согласие'], id: ['id'],
  };
  const head = lines[0].split(sep).map((s) => s.trim().toLowerCase());
  const col = {};
  for (const [k, alts] of Object.entries(names)) col[k] = head.findIndex((x) => alts.includes(x));
  if (col.phone < 0) return { rows: [], problems: ['нет столбца «телефон» в первой строке'] };
  const rows = [];
  const problems = [];
  const yes = (v) => ['да', 'yes', '1', 'true', '+'].includes(String(v || '').trim().toLowerCase());
  lines.slice(1).forEach((line, i) => {
    const f = line.split(sep).map((s) => s.trim());
    const get = (k) => (col[k] >= 0 ? f[col[k]] || '' : '');
    const n = i + 2;
    if (!get('phone')) {
      problems.push(`строка ${n}: нет телефона — пропущена`);
      return;
    }
    const r = { phone: get('phone'), consent: yes(get('consent')) };
    for (const k of ['id', 'fio', 'account', 'address']) if (get(k)) r[k] = get(k);
    if (get('debt')) {
      const rub = Number(get('debt').replace(/\s/g, '').replace(',', '.'));
      if (Number.isNaN(rub)) { problems.push(`строка ${n}: долг «${get('debt')}» не число — пропущена`); return; }
      r.debt_kopecks = Math.round(rub * 100);
    }
    for (const k of ['due_date', 'period']) if (get(k)) r[k] = get(k);
    if (!r.consent) problems.push(`строка ${n} (${r.phone}): нет согласия на автоматические звонки (41-ФЗ) — будет пропущен`);
    rows.push(r);
  });
  return { rows, problems };
}

async function newForm({ api, navigate }) {
  const [templatesResp, buildings] = await Promise.all([
    api('/api/v1/campaigns/templates').catch(() => ({ templates: [] })),
    api('/api/v1/buildings').catch(() => []),
  ]);
  let templates = templatesResp.templates;
  const err = h('div', { class: 'form-error', id: 'campaign-error' });

  // Main.
  const name = h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'Например: Отключение воды 5 декабря' });
  const kind = h('select', { name: 'kind' },
    h('option', { value: 'info' }, 'Информирование'),
    h('option', { value: 'debt' }, 'Должники (лимиты 230-ФЗ)'));

  // Recipients.
  const source = h('select', { name: 'source' },
    h('option', { value: 'list' }, 'Загруженный список (CSV)'),
    h('option', { value: 'registry' }, 'Из реестра'));
  const csvText = h('textarea', { name: 'recipients_csv', rows: 4,
    placeholder: 'телефон;фио;лс;адрес;долг;согласие\n+79161234567;Иванов Иван;1001;ул. Ленина, 5, кв. 1;1234,50;да' });
  const csvFile = h('input', { type: 'file', name: 'recipients_file', accept: '.csv,text/csv,text/plain' });
  csvFile.addEventListener('change', async () => {
    const f = csvFile.files[0];
    if (f) csvText.value = await f.text();
  });
  const district = h('input', { name: 'district', placeholder: 'любой' });
  const building = h('select', { name: 'building_id' }, h('option', { value: '' }, 'все дома'),
    buildings.map((b) => h('option', { value: b.id }, b.address)));
  const debtors = h('input', { type: 'checkbox', name: 'debtors' });
  const minDebt = h('input', { type: 'number', name: 'min_debt_rub', min: 0, step: '0.01', value: '0', style: 'width:7em' });
  const minMonths = h('input', { type: 'number', name: 'min_months', min: 0, value: '0', style: 'width:4em' });
  const listPart = h('div', { class: 'src-list' }, csvText, h('label', {}, 'или файл ', csvFile));
  const regPart = h('div', { class: 'src-registry', hidden: true },
    h('label', {}, 'Дом ', building), h('label', {}, ' Район ', district),
    h('div', {}, h('label', {}, debtors, ' только должники: долг от '), minDebt, ' ₽, не меньше ', minMonths, ' мес.'));
  source.addEventListener('change', () => {
    listPart.hidden = source.value !== 'list';
    regPart.hidden = source.value !== 'registry';
    previewBox.replaceChildren();
  });
  const previewBox = h('div', { id: 'recipients-preview' });

  function selection() {
    const sel = {};
    if (building.value) sel.buildings = [Number(building.value)];
    if (district.value.trim()) sel.districts = [district.value.trim()];
    if (debtors.checked) sel.debt = { min_kopecks: Math.round(Number(minDebt.value || 0) * 100), min_months: Number(minMonths.value || 0) };
    return sel;
  }

  async function previewRecipients() {
    previewBox.replaceChildren();
    if (source.value === 'list') {
      const { rows, problems } = parseRecipients(csvText.value);
      const skipped = rows.filter((r) => !r.consent).length;
      previewBox.append(h('p', { id: 'recipients-count' },
        `В списке: ${rows.length}; будут обзвонены: ${rows.length - skipped}; пропущены: ${problems.length}`),
      problems.length ? h('ul', { class: 'skipped' }, problems.map((p) => h('li', {}, p))) : '');
      return;
    }
    const q = new URLSearchParams({ limit: '200' });
    const s = selection();
    if (s.buildings) q.set('building_id', s.buildings.join(','));
    if (s.districts) q.set('district', s.districts[0]);
    if (s.debt) { q.set('min_debt_kopecks', s.debt.min_kopecks); q.set('min_months', s.debt.min_months); }
    try {
      const r = await api(`/api/v1/campaigns/recipients?${q}`);
      const skipped = r.recipients.filter((x) => x.status === 'skipped');
      previewBox.append(h('p', { id: 'recipients-count' },
        `Найдено: ${r.total}; будут обзвонены: ${r.callable}; пропущены: ${r.skipped}`),
      skipped.length ? h('table', { class: 'list skipped' },
        h('thead', {}, h('tr', {}, ['ЛС', 'Адрес', 'Телефон', 'Почему пропущен'].map((c) => h('th', {}, c)))),
        h('tbody', {}, skipped.map((x) => h('tr', {}, h('td', {}, x.account), h('td', {}, x.address || ''),
          h('td', {}, x.phone || '—'), h('td', {}, x.reason_ru || x.reason))))) : '');
    } catch (e) {
      previewBox.append(errorBox(e.message));
    }
  }

  // Message.
  const tplSel = h('select', { name: 'template_id' });
  const tplName = h('input', { name: 'template_name', maxlength: 100, placeholder: 'Название шаблона' });
  const text = h('textarea', { name: 'template', rows: 3, required: true,
    placeholder: 'Здравствуйте, {fio}. По адресу {address} долг {debt}. Оплатите до {due_date}.' });
  const askQuestion = h('input', { type: 'checkbox', name: 'ask' });
  const question = h('textarea', { name: 'question', rows: 2, disabled: true }, DEFAULT_QUESTION);
  askQuestion.addEventListener('change', () => { question.disabled = !askQuestion.checked; });
  const spoken = h('div', { id: 'spoken-preview', class: 'notice', hidden: true });
  function fillTemplates(selectId) {
    tplSel.replaceChildren(h('option', { value: '' }, '— новый текст —'),
      ...templates.map((t) => h('option', { value: t.id }, t.name)));
    tplSel.value = selectId ? String(selectId) : '';
  }
  fillTemplates();
  tplSel.addEventListener('change', () => {
    const t = templates.find((x) => String(x.id) === tplSel.value);
    tplName.value = t ? t.name : '';
    text.value = t ? t.text : '';
    askQuestion.checked = !!(t && t.question);
    question.disabled = !askQuestion.checked;
    if (t && t.question) question.value = t.question;
    spoken.hidden = true;
  });
  async function saveTemplate() {
    err.textContent = '';
    const body = { name: tplName.value, text: text.value, question: askQuestion.checked ? question.value : null };
    try {
      const t = tplSel.value
        ? await api(`/api/v1/campaigns/templates/${tplSel.value}`, { method: 'PUT', body })
        : await api('/api/v1/campaigns/templates', { method: 'POST', body });
      templates = (await api('/api/v1/campaigns/templates')).templates;
      fillTemplates(t.id);
      toast(`Шаблон «${t.name}» сохранён`);
    } catch (e) {
      err.textContent = e.message;
    }
  }
  async function deleteTemplate() {
    if (!tplSel.value) return;
    const t = templates.find((x) => String(x.id) === tplSel.value);
    if (!window.confirm(`Удалить шаблон «${t.name}»? Созданные по нему кампании не изменятся.`)) return;
    try {
      await api(`/api/v1/campaigns/templates/${tplSel.value}`, { method: 'DELETE' });
      templates = templates.filter((x) => x !== t);
      fillTemplates();
      toast('Шаблон удалён');
    } catch (e) {
      err.textContent = e.message;
    }
  }
  async function previewSpoken() {
    err.textContent = '';
    try {
      const p = await api('/api/v1/campaigns/templates/preview', { method: 'POST',
        body: { text: text.value, question: askQuestion.checked ? question.value : null } });
      spoken.replaceChildren(h('b', {}, 'Робот скажет: '), p.spoken,
        p.question ? h('div', {}, h('b', {}, 'Вопрос: '), p.question) : '',
        h('div', { class: 'muted' }, 'Пример для: ', p.values.fio, ', ', p.values.address));
      spoken.hidden = false;
    } catch (e) {
      err.textContent = e.message;
      spoken.hidden = true;
    }
  }

  // Schedule and pacing.
  // The schedule is entered in the campaign's zone, by default the company's.
  const now = Date.now();
  const zone0 = timeZone() || Intl.DateTimeFormat().resolvedOptions().timeZone || 'Europe/Moscow';
  const start = h('input', { type: 'datetime-local', name: 'start', value: zoneInput(now, zone0) });
  const end = h('input', { type: 'datetime-local', name: 'end', value: zoneInput(now + 8 * 3600e3, zone0) });
  // A new zone keeps the schedule's instants: its wall clock times are shown in that zone.
  let shownZone = zone0;
  const tz = h('input', {
    name: 'time_zone', value: zone0, style: 'width:12em',
    oninput: () => {
      const z = knownZone(tz.value.trim());
      if (!z || z === shownZone) return;
      for (const input of [start, end]) {
        if (input.value) input.value = zoneInput(Date.parse(zoneInputToIso(input.value, shownZone)), z);
      }
      shownZone = z;
    },
  });
  const num = (nm, v, min, max) => h('input', { type: 'number', name: nm, value: v, min, max, style: 'width:5em' });
  const channels = num('channels', 2, 1, 500);
  const perMinute = num('per_minute', 10, 1, 6000);
  const ring = num('ring_timeout_s', 30, 5, 120);
  const busy = num('retries_busy', 2, 0, 10);
  const busyGap = num('busy_gap_min', 10, 0, 1440);
  const noAnswer = num('retries_no_answer', 1, 0, 10);
  const noAnswerGap = num('no_answer_gap_min', 60, 0, 1440);
  // The answering-machine heuristic (the campaign's `answering_machine`): off by default.
  const machine = h('select', { name: 'answering_machine' },
    h('option', { value: '' }, 'не распознавать (сообщение сразу после ответа)'),
    h('option', { value: 'retry' }, 'положить трубку и перезвонить позже'),
    h('option', { value: 'message' }, 'оставить сообщение после приветствия'));

  const form = h('form', { id: 'campaign-form', class: 'panel' },
    h('h3', {}, 'Новая кампания'),
    h('div', { class: 'grid2' },
      h('div', {},
        h('label', {}, 'Название ', name), ' ', h('label', {}, 'Тип ', kind),
        h('h4', {}, 'Получатели'), h('label', {}, 'Откуда ', source), listPart, regPart,
        h('button', { type: 'button', id: 'preview-recipients', onclick: previewRecipients }, 'Показать получателей'),
        previewBox),
      h('div', {},
        h('h4', {}, 'Сообщение'),
        h('label', {}, 'Шаблон ', tplSel), ' ', tplName,
        text,
        h('div', { class: 'muted' }, 'Переменные: {fio}, {address}, {account}, {debt}, {due_date}, {period}'),
        h('label', {}, askQuestion, ' Задать вопрос после сообщения (1 — подтвердить, 2 — оператор или перезвонить, 9 — не звонить)'),
        question,
        h('div', { class: 'actions' },
          h('button', { type: 'button', id: 'speak-preview', onclick: previewSpoken }, 'Как скажет робот'),
          h('button', { type: 'button', id: 'save-template', onclick: saveTemplate }, 'Сохранить шаблон'),
          h('button', { type: 'button', id: 'delete-template', onclick: deleteTemplate }, 'Удалить шаблон')),
        spoken,
        h('h4', {}, 'Расписание и темп'),
        h('div', {}, h('label', {}, 'С ', start), ' ', h('label', {}, 'по ', end), ' ', h('label', {}, 'пояс ', tz)),
        h('div', {}, h('label', {}, 'Линий ', channels), ' ', h('label', {}, 'звонков в минуту ', perMinute), ' ',
          h('label', {}, 'ждать ответа, с ', ring)),
        h('div', {}, 'Повторы: ', h('label', {}, 'занято ', busy, ' раз через ', busyGap, ' мин'), '; ',
          h('label', {}, 'не ответил ', noAnswer, ' раз через ', noAnswerGap, ' мин')),
        h('div', {}, h('label', {}, 'Автоответчик: ', machine)))),
    err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'create-campaign' }, 'Создать (черновик)')));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const body = {
      name: name.value,
      debt: kind.value === 'debt',
      template: text.value,
      start: zoneInputToIso(start.value, knownZone(tz.value.trim())),
      end: zoneInputToIso(end.value, knownZone(tz.value.trim())),
      time_zone: tz.value.trim(),
      channels: Number(channels.value),
      per_minute: Number(perMinute.value),
      ring_timeout_s: Number(ring.value),
      retries: { busy: Number(busy.value), busy_gap_min: Number(busyGap.value),
        no_answer: Number(noAnswer.value), no_answer_gap_min: Number(noAnswerGap.value) },
    };
    if (machine.value) body.answering_machine = { on_machine: machine.value };
    if (tplSel.value) body.template_id = Number(tplSel.value);
    if (askQuestion.checked) body.question = question.value;
    if (source.value === 'list') {
      const { rows } = parseRecipients(csvText.value);
      if (!rows.length) { err.textContent = 'Получатели: список пуст или без столбца «телефон»'; return; }
      body.recipients = rows;
    } else {
      body.selection = selection();
    }
    try {
      const c = await api('/api/v1/campaigns', { method: 'POST', body });
      toast('Кампания создана: проверьте получателей и запустите');
      navigate('campaigns', c.id);
    } catch (e2) {
      err.textContent = e2.message;
    }
  });
  return form;
}

// ---------------------------------------------------------------------------------------------
// One campaign.

async function detail(root, { api, can, navigate }, id) {
  const head = h('div', { class: 'page-head' });
  const info = h('div', { id: 'campaign-info' });
  const totals = h('p', { id: 'campaign-totals' });
  const table = h('div', { id: 'campaign-recipients' });
  root.append(head, info, totals, table);
  let timer = null;
  let last = null;

  async function act(cmd, confirmText) {
    if (confirmText && !window.confirm(confirmText)) return;
    try {
      await api(`/api/v1/campaigns/${id}/${cmd}`, { method: 'POST' });
      await load();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  function buttons(state) {
    const b = [];
    if (state === 'draft') b.push(h('button', { class: 'primary', id: 'start', onclick: () => act('start') }, 'Запустить'));
    if (state === 'running') b.push(h('button', { id: 'pause', onclick: () => act('pause') }, 'Приостановить'));
    if (state === 'paused') b.push(h('button', { class: 'primary', id: 'resume', onclick: () => act('resume') }, 'Продолжить'));
    if (['draft', 'running', 'paused'].includes(state)) {
      b.push(h('button', { id: 'cancel', onclick: () => act('cancel', 'Отменить кампанию? Оставшимся не позвонят.') }, 'Отменить'));
    }
    b.push(h('a', { class: 'button', id: 'export-csv', href: `/api/v1/campaigns/${id}/export.csv`, download: `campaign-${id}.csv` }, 'CSV'),
      h('a', { class: 'button', id: 'export-xlsx', href: `/api/v1/campaigns/${id}/export.xlsx`, download: `campaign-${id}.xlsx` }, 'XLSX'));
    return b;
  }

  function row(r) {
    const attempts = r.attempts || [];
    const lastA = attempts[attempts.length - 1] || {};
    const rec = attempts.filter((a) => a.recording).pop();
    const skipReason = r.status === 'skipped' ? r.status_ru.replace(/^пропущен:\s*/, '') : '';
    return h('tr', { dataset: { id: r.id, status: r.status } },
      h('td', {}, r.id), h('td', {}, r.phone || '—'),
      h('td', { class: `rs rs-${r.status}` }, r.status_ru),
      h('td', { class: 'attempts' }, attempts.length),
      h('td', { class: 'sip' }, lastA.sip_code ?? ''),
      h('td', { class: 'digit' }, lastA.digit || ''),
      h('td', {}, lastA.started_at ? fmtDateTime(lastA.started_at) : ''),
      h('td', { class: 'skip' }, skipReason),
      h('td', {}, rec && can('listen_recordings')
        ? h('audio', { controls: true, preload: 'none', class: 'recording',
          src: `/api/v1/campaigns/${id}/recording?path=${encodeURIComponent(rec.recording)}` })
        : ''));
  }

  async function load() {
    let c;
    try {
      c = await api(`/api/v1/campaigns/${id}`);
    } catch (e) {
      table.replaceChildren(errorBox(e.message));
      return;
    }
    const json = JSON.stringify(c);
    const same = last && JSON.stringify(last) === json;
    last = c;
    const live = c.state === 'running' || (c.state === 'paused' && c.active_calls > 0);
    if (live && !timer) timer = setInterval(load, REFRESH_MS);
    if (!live && timer) { clearInterval(timer); timer = null; }
    // Unchanged: leave the page alone (a recording being played keeps playing).
    if (same) return;
    head.replaceChildren(
      h('h2', {}, `Обзвон №${c.id}: ${c.name}`),
      h('span', { class: `cs cs-${c.state}`, id: 'campaign-state', dataset: { state: c.state } }, STATE[c.state] || c.state),
      h('div', { class: 'actions' }, ...buttons(c.state),
        h('button', { class: 'link', onclick: () => navigate('campaigns') }, 'Ко всем обзвонам')));
    const r = c.retries || {};
    info.replaceChildren(h('div', { class: 'kv' },
      h('span', { class: 'k' }, 'Тип'), h('span', { class: 'v' }, c.debt ? 'должники (лимиты 230-ФЗ)' : 'информирование'),
      h('span', { class: 'k' }, 'Время'), h('span', { class: 'v' }, `${fmtDateTime(c.start)} — ${fmtDateTime(c.end)} (${c.time_zone})`),
      h('span', { class: 'k' }, 'Темп'), h('span', { class: 'v' },
        `${c.channels} лин., ${c.per_minute} в мин.; повторы: занято ${r.busy ?? 0} × ${r.busy_gap_min ?? 0} мин, не ответил ${r.no_answer ?? 0} × ${r.no_answer_gap_min ?? 0} мин`),
      h('span', { class: 'k' }, 'Сообщение'), h('span', { class: 'v', id: 'campaign-template' }, c.template || ''),
      c.question ? [h('span', { class: 'k' }, 'Вопрос'), h('span', { class: 'v' }, c.question)] : '',
      c.answering_machine ? [h('span', { class: 'k' }, 'Автоответчик'), h('span', { class: 'v' },
        c.answering_machine.on_machine === 'message' ? 'оставить сообщение после приветствия' : 'перезвонить позже')] : ''));
    const t = c.totals;
    totals.replaceChildren(`Получателей: ${t.recipients}; позвонили: ${t.called}; сейчас на линии: ${c.active_calls}. `,
      h('b', {}, `Дозвон ${pct(t.reached_pct)}`), ', ', h('b', {}, `дослушали ${pct(t.listened_pct)}`), ', ',
      h('b', {}, `подтвердили ${pct(t.confirmed_pct)}`), `, отказались от звонков: ${t.opted_out}.`);
    table.replaceChildren(h('table', { class: 'list', id: 'recipients' },
      h('thead', {}, h('tr', {}, ['Получатель', 'Телефон', 'Статус', 'Попыток', 'Код SIP', 'Клавиша', 'Последний звонок', 'Причина пропуска', 'Запись']
        .map((x) => h('th', {}, x)))),
      h('tbody', {}, c.recipients.map(row))));
  }

  await load();
  // For the browser tests: the last document shown.
  window.zvonarCampaign = () => last;
  return () => { if (timer) clearInterval(timer); };
}

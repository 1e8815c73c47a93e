// Монитор (view_monitor): the floor live. One WebSocket (/api/v1/monitor/ws, the session
// cookie authenticates it) brings a snapshot at once, on every change of the queues and at
// least every few seconds; times in state and waits tick here between snapshots. When the
// socket drops the page says so and reconnects (1, 2, 4 … 15 s); a session that ended
// (close 4401) goes back to the login form, a lost permission (4403) is said and not retried.

import { api } from '../js/api.js';
import { h, errorBox, fmtTime } from '../js/ui.js';
import { STATUS } from './tickets.js';

const STATE = {
  available: 'свободен', ringing: 'звонок', on_call: 'разговор', wrap_up: 'обработка',
  paused: 'пауза', disconnected: 'нет связи', logged_out: 'не в очереди',
};

/** «1:05», «12:00:07» from seconds. */
function dur(s) {
  if (s === null || s === undefined) return '—';
  s = Math.max(0, Math.floor(s));
  const p = (n) => String(n).padStart(2, '0');
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  return hh ? `${hh}:${p(mm)}:${p(s % 60)}` : `${mm}:${p(s % 60)}`;
}

/** «83 %» from a 0–1 ratio; «—» for none. */
function pct(x) {
  return x === null || x === undefined ? '—' : `${Math.round(x * 100)} %`;
}

/** Seconds with one decimal at most; «—» for none. */
function secs(x) {
  return x === null || x === undefined ? '—' : `${Math.round(x)} с`;
}

export async function render(root, { navigate }) {
  const status = h('span', { id: 'monitor-status', class: 'conn conn-connecting' }, 'подключение…');
  const updated = h('span', { class: 'muted', id: 'monitor-updated' });
  const body = h('div', { id: 'monitor-body' }, h('p', { class: 'muted' }, 'Загрузка…'));
  root.append(h('div', { class: 'page-head' }, h('h2', {}, 'Монитор'),
    h('span', { class: 'monitor-conn' }, status, ' ', updated)), body);

  let socket = null;
  let stopped = false;
  let retry = null;
  let delay = 1;
  let snap = null;
  let receivedAt = 0;
  const clock = setInterval(() => { if (snap) tick(); }, 1000);

  function setStatus(kind, text) {
    status.className = `conn conn-${kind}`;
    status.textContent = text;
  }

  function connect() {
    if (stopped) return;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/api/v1/monitor/ws`);
    socket = ws;
    ws.onopen = () => { delay = 1; setStatus('live', 'в реальном времени'); };
    ws.onmessage = (e) => {
      try {
        snap = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      receivedAt = Date.now();
      draw();
    };
    ws.onclose = (e) => {
      if (socket !== ws || stopped) return;
      socket = null;
      if (e.code === 4401) {
        // The session ended: the shell's 401 handling shows the login form.
        setStatus('down', 'сеанс завершён');
        api('/api/v1/me').catch(() => {});
        return;
      }
      if (e.code === 4403 || e.code === 1008) {
        setStatus('down', 'нет доступа');
        body.prepend(errorBox('Нет права просматривать монитор (view_monitor).'));
        return;
      }
      // A handshake refused for an expired session looks like any drop (1006): ask once, so
      // the shell shows the login form on a 401.
      api('/api/v1/me').catch(() => {});
      setStatus('down', `нет связи — повтор через ${delay} с`);
      retry = setTimeout(connect, delay * 1000);
      delay = Math.min(delay * 2, 15);
    };
  }

  /** Seconds passed since the snapshot arrived. */
  function since() {
    return (Date.now() - receivedAt) / 1000;
  }

  /** Advances the times in state and the waits without a new snapshot. */
  function tick() {
    const d = since();
    for (const el of body.querySelectorAll('[data-base]')) {
      el.textContent = dur(Number(el.dataset.base) + d);
    }
  }

  function timeCell(base, cls) {
    if (base === null || base === undefined) return h('td', { class: cls }, '—');
    return h('td', { class: cls, 'data-base': base }, dur(base));
  }

  function kpiRow(name, k, cls) {
    if (!k) return null;
    return h('tr', { class: cls, 'data-queue': name },
      h('th', {}, name),
      h('td', { class: 'offered' }, k.offered),
      h('td', { class: 'answered' }, k.answered),
      h('td', { class: 'abandoned' }, k.abandoned,
        k.short_abandoned ? h('span', { class: 'muted' }, ` (${k.short_abandoned} корот.)`) : null),
      h('td', { class: 'overflowed' }, k.overflowed),
      h('td', { class: 'waiting' }, k.waiting),
      h('td', { class: 'sl' }, pct(k.service_level)),
      h('td', { class: 'sl5' }, pct(k.within_5_min)),
      h('td', { class: 'asa' }, secs(k.asa_s)),
      h('td', { class: 'abandon-rate' }, pct(k.abandonment_rate)),
      h('td', { class: 'aht' }, secs(k.aht_s)));
  }

  function draw() {
    const m = snap;
    updated.textContent = `обновлено ${fmtTime(m.at || Date.now())}`;
    const queues = m.queues || [];
    const kpis = h('div', { class: 'card' },
      h('h3', {}, `Сегодня${m.day ? ` (${m.day.split('-').reverse().join('.')})` : ''}`),
      queues.length || m.total ? h('table', { class: 'list kpi', id: 'monitor-kpi' },
        h('thead', {}, h('tr', {},
          h('th', {}, 'Очередь'), h('th', {}, 'Поступило'), h('th', {}, 'Отвечено'),
          h('th', { title: `Короткие (короче ${m.short_abandon_s} с) не входят в уровень обслуживания и долю потерянных` }, 'Потеряно'),
          h('th', { title: 'Переданы роботу (время ожидания истекло или нет операторов)' }, 'Роботу'),
          h('th', {}, 'Ждут'),
          h('th', { title: 'Доля звонков, принятых за это время' }, `≤ ${m.service_level_s} с`),
          h('th', { title: 'ПП РФ № 416: аварийно-диспетчерская служба отвечает в течение 5 минут' }, '≤ 5 мин'),
          h('th', { title: 'Среднее время ответа' }, 'ASA'),
          h('th', {}, 'Доля потерянных'),
          h('th', { title: 'Среднее время обработки: разговор + постобработка' }, 'AHT'))),
        h('tbody', {},
          queues.map((q) => kpiRow(q.name, q.today, 'queue-row')),
          queues.length > 1 ? kpiRow('Все очереди', m.total, 'total-row') : null))
        : h('p', { class: 'muted' }, 'Очереди не настроены'),
      m.total ? h('p', { class: 'muted', id: 'monitor-occupancy' },
        `Занятость операторов: ${pct(m.total.occupancy)}`,
        m.total.emergency_within_5_min !== null && m.total.emergency_within_5_min !== undefined
          ? ` · аварийные за 5 минут: ${pct(m.total.emergency_within_5_min)}` : '') : null);

    const agents = m.agents || [];
    const agentsCard = h('div', { class: 'card' }, h('h3', {}, `Операторы (${agents.filter((a) => a.state !== 'logged_out').length} в очереди)`),
      agents.length ? h('table', { class: 'list', id: 'monitor-agents' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Оператор'), h('th', {}, 'Состояние'),
          h('th', {}, 'Время'), h('th', {}, 'Звонок'))),
        h('tbody', {}, agents.map((a) => h('tr', { 'data-login': a.login, class: `agent-${a.state}` },
          h('td', { title: a.login }, a.name || a.login),
          h('td', { class: 'state' }, h('span', { class: `ag ag-${a.state}` }, STATE[a.state] || a.state),
            a.pause_reason ? h('span', { class: 'reason' }, ` ${a.pause_reason}`) : null),
          timeCell(a.in_state_s, 'in-state'),
          h('td', { class: 'call' }, a.call || '')))))
        : h('p', { class: 'muted' }, 'Никто ещё не входил в очередь'));

    const waiting = queues.flatMap((q) => (q.calls || []).map((c) => ({ ...c, queue: q.name })));
    const callsCard = h('div', { class: 'card' }, h('h3', {}, 'Звонки в очередях'),
      queues.length ? h('p', { class: 'muted' }, queues.map((q) =>
        `${q.name}: ждут ${q.waiting}${q.longest_wait_s !== null && q.longest_wait_s !== undefined ? `, дольше всех ${dur(q.longest_wait_s)}` : ''}`).join(' · ')) : null,
      waiting.length ? h('table', { class: 'list', id: 'monitor-calls' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Очередь'), h('th', {}, '№'), h('th', {}, 'Ожидание'),
          h('th', {}, 'Состояние'))),
        h('tbody', {}, waiting.map((c) => h('tr', {
          'data-call': c.call_id, class: c.position ? 'waiting-call' : 'connected-call',
        },
        h('td', {}, c.queue, c.emergency ? h('span', { class: 'emergency' }, ' авария') : null),
        h('td', { class: 'position' }, c.position || ''),
        timeCell(c.waiting_s, 'wait'),
        h('td', {}, c.agent ? `разговор: ${c.agent}`
          : (c.ringing && c.ringing.length ? `звонит: ${c.ringing.join(', ')}` : 'ждёт'))))))
        : h('p', { class: 'muted', id: 'monitor-no-calls' }, 'Никто не ждёт'));

    const t = m.tickets;
    const ticketsCard = h('div', { class: 'card', id: 'monitor-tickets' }, h('h3', {}, 'Заявки'),
      t ? [
        h('p', {}, `Открыто: ${t.open} · `, h('span', { class: t.overdue ? 'overdue' : '' }, `просрочено: ${t.overdue}`),
          ` · подано сегодня: ${t.filed_today}`),
        h('p', {}, t.by_status.map((s) => h('span', { class: `st st-${s.status}`, 'data-status': s.status },
          `${STATUS[s.status] || s.status}: ${s.count}`)).reduce((acc, el) => acc.concat(el, ' '), [])),
        t.by_building.length ? h('table', { class: 'list', id: 'monitor-buildings' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Дом'), h('th', {}, 'Открыто'))),
          h('tbody', {}, t.by_building.slice(0, 10).map((b) => h('tr', {},
            h('td', {}, b.address || (b.building_id ? `дом № ${b.building_id}` : 'без адреса')),
            h('td', {}, b.count))))) : null,
        t.by_executor.length ? h('table', { class: 'list', id: 'monitor-executors' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Исполнитель'), h('th', {}, 'Открыто'))),
          h('tbody', {}, t.by_executor.slice(0, 10).map((e) => h('tr', {},
            h('td', {}, e.executor || 'не назначен'), h('td', {}, e.count))))) : null,
        h('p', {}, h('a', { href: '#/tickets', onclick: (ev) => { ev.preventDefault(); navigate('tickets'); } }, 'Журнал заявок')),
      ] : h('p', { class: 'muted' }, 'Журнал заявок недоступен'));

    body.replaceChildren(kpis, h('div', { class: 'monitor-grid' },
      h('div', {}, agentsCard, callsCard), h('div', {}, ticketsCard)));
  }

  connect();
  return () => {
    stopped = true;
    clearInterval(clock);
    clearTimeout(retry);
    if (socket) socket.close(1000);
  };
}

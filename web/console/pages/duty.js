// Оповещение дежурных (emergency call-outs): the escalation block of an emergency ticket's
// card (who was called, when, with what outcome and SIP code; «Принять заявку» while the
// robot is still calling) and the journal's alarm for emergency tickets nobody on duty
// accepted (GET /api/v1/duty/unanswered).

import { h, fmtDateTime } from '../js/ui.js';

const RUNNING = ['waiting', 'calling'];

// The card block, or null when the ticket had no escalation. `act(path, body, done)` posts
// to /api/v1/tickets/<id>/<path> and reloads the card.
export function escalationCard(e, ctx, act) {
  if (!e) return null;
  const alarm = e.phase === 'unanswered';
  const card = h('div', { class: `card${alarm ? ' alarm' : ''}`, id: 'escalation' },
    h('h3', {}, 'Оповещение дежурных', e.department ? ` — ${e.department}` : ''),
    h('p', { id: 'escalation-state', class: alarm ? 'emergency' : '' }, e.state_ru));
  if (e.attempts.length) {
    card.append(h('table', { class: 'list', id: 'escalation-attempts' },
      h('thead', {}, h('tr', {}, ['№', 'Кому', 'Когда', 'Итог', 'SIP', 'Запись'].map((x) => h('th', {}, x)))),
      h('tbody', {}, e.attempts.map((a) => h('tr', { dataset: { outcome: a.outcome ? a.outcome.outcome : 'calling' } },
        h('td', {}, String(a.n)),
        h('td', {}, a.callee.name, a.callee.supervisor ? ' (руководитель)' : '', h('span', { class: 'muted' }, ` ${a.phone}`)),
        h('td', {}, fmtDateTime(a.started_at)),
        h('td', {}, a.outcome_ru),
        h('td', {}, a.sip_code == null ? '' : String(a.sip_code)),
        h('td', {}, a.recording_deleted_at ? h('span', { class: 'muted' }, 'удалена по сроку хранения') : a.recording && ctx.can('listen_recordings')
          ? h('audio', { controls: true, preload: 'none', class: 'attempt-recording', src: `/api/v1/tickets/${e.ticket_id}/escalation/${a.n}/recording` })
          : ''))))));
  }
  if (RUNNING.includes(e.phase) && (ctx.can('complete_tickets') || ctx.can('transfer_tickets'))) {
    card.append(h('div', { class: 'actions' }, h('button', {
      id: 'duty-accept', class: 'primary',
      onclick: () => act('escalation/accept', undefined, 'Аварийная заявка принята вами'),
    }, 'Принять заявку')));
  }
  return card;
}

// The journal's alarm: a red banner linking every unanswered emergency ticket, or nothing.
export async function unansweredBanner(ctx) {
  let ids;
  try {
    ids = (await ctx.api('/api/v1/duty/unanswered')).tickets;
  } catch {
    return null;
  }
  if (!ids || !ids.length) return null;
  return h('div', { class: 'card alarm', id: 'duty-alarm' },
    h('strong', { class: 'emergency' }, 'Никто из дежурных не принял аварийные заявки: '),
    ids.flatMap((id, i) => [i ? ', ' : '', h('a', { href: `#/tickets/${id}` }, `№ ${id}`)]),
    ' — назначьте исполнителя.');
}

// The caller's card (карточка звонящего): what GET /api/v1/card returns, drawn as one block.
// Used by the missed-calls page and by the softphone when a call rings:
//   import { cardView } from '../js/card.js';
//   box.replaceChildren(cardView(await api(`/api/v1/card?call_id=${id}`)));

import { h, fmtDateTime } from './ui.js';

const STATUS = { new: 'новая', in_progress: 'в работе', done: 'выполнена', closed: 'закрыта', cancelled: 'отменена' };

/** An account's imported debt as one line, or null when the billing export has no figures. */
export function debtLine(d) {
  if (!d) return null;
  const owes = d.balance_kopecks > 0;
  const text = owes ? `Долг ${d.balance_text}` : d.balance_kopecks < 0 ? d.balance_text : 'Долга нет';
  const months = owes && d.months_owed > 0
    ? ` · не оплачено месяцев: ${d.months_owed}${d.oldest_unpaid_text ? ` (первый — ${d.oldest_unpaid_text})` : ''}`
    : '';
  return h('p', { class: owes ? 'debt warn' : 'debt muted' }, `${text} ${d.as_of_text}${months}`);
}

/** The card as a DOM element. */
export function cardView(card) {
  const el = h('div', { class: 'caller-card' });
  const title = card.phone
    ? `${card.phone}${card.source === 'caller_id' ? '' : card.source === 'entered' ? ' (введён вручную)' : ''}`
    : `Номер не подтверждён${card.call && card.call.caller_raw ? `: ${card.call.caller_raw}` : ''}`;
  el.append(h('h3', {}, title));
  if (card.missed) {
    el.append(h('p', { class: card.missed.overdue ? 'overdue' : 'warn' },
      `Пропущено звонков: ${card.missed.calls}, ждёт перезвона`));
  }
  if (!card.accounts.length) {
    el.append(h('p', { class: 'muted' }, card.phone ? 'Номер не найден в реестре' : 'Реестр не проверялся'));
  }
  for (const a of card.accounts) {
    el.append(h('div', { class: 'account' },
      h('strong', {}, `${a.address}, кв. ${a.apartment}`),
      h('span', { class: 'muted' }, ` · ЛС ${a.account_number}`),
      debtLine(a.debt),
      h('ul', {}, a.residents.map((r) => h('li', {}, r.full_name || '(без имени)',
        r.phones.length ? h('span', { class: 'muted' }, ` ${r.phones.join(', ')}`) : null)))));
  }
  if (card.outages.length) {
    el.append(h('h4', {}, 'Отключения'), h('ul', { class: 'outages' }, card.outages.map((o) =>
      h('li', { class: `outage-${o.state}` },
        `${o.resource_label || o.kind}: с ${fmtDateTime(o.starts_at)}`,
        o.ends_at ? ` до ${fmtDateTime(o.ends_at)}` : ', окончание не известно',
        o.text ? ` — ${o.text}` : ''))));
  }
  el.append(h('h4', {}, 'Заявки'), card.tickets.length
    ? h('ul', { class: 'tickets' }, card.tickets.map((t) => h('li', {},
      `№${t.number} от ${fmtDateTime(t.created_at)}: ${t.description || t.topic} `,
      h('span', { class: `st st-${t.status}` }, STATUS[t.status] || t.status))))
    : h('p', { class: 'muted' }, 'Нет'));
  el.append(h('h4', {}, 'Звонки'), card.calls.length
    ? h('ul', { class: 'calls' }, card.calls.map((c) => h('li', {},
      `${fmtDateTime(c.started_at)} `,
      c.recording_url ? h('audio', { controls: true, preload: 'none', src: c.recording_url }) : null)))
    : h('p', { class: 'muted' }, 'Раньше не звонил'));
  return el;
}

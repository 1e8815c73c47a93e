// Оценки жителей: satisfaction with completed tickets for a period, by executor, topic or
// building (GET /api/v1/ratings/report, view_monitor): number of ratings, the mean, the low ones
// (at or below the quality-control threshold), the share of 4 and 5, each value; CSV download.
// Ratings come from the rating robot's calls and the residents' app.

import { h, errorBox, zoneDate } from '../js/ui.js';

const BY = { executor: 'исполнителям', topic: 'темам', building: 'домам' };

export async function render(root, { api }) {
  // This month so far, in the company's zone (the server counts days in it).
  const today = zoneDate();
  const from = h('input', { type: 'date', name: 'from', value: `${today.slice(0, 8)}01` });
  const to = h('input', { type: 'date', name: 'to', value: today });
  const by = h('select', { name: 'by' }, Object.entries(BY).map(([k, v]) => h('option', { value: k }, `по ${v}`)));
  const csv = h('a', { id: 'ratings-csv', download: '' }, 'Скачать CSV');
  const body = h('div', { id: 'ratings-body' });
  let meta = { topics: [], buildings: [] };
  try {
    meta = await api('/api/v1/ticket-meta');
  } catch (_) { /* names fall back to codes */ }
  const label = (kind, row) => {
    if (row.key === null) return kind === 'executor' ? 'не назначен' : 'не указан';
    if (kind === 'topic') return (meta.topics.find((t) => t.code === row.key) || {}).name || row.key;
    if (kind === 'building') return (meta.buildings.find((b) => String(b.id) === row.key) || {}).address || `дом ${row.key}`;
    return row.label || row.key;
  };
  async function load() {
    const q = `from=${from.value}&to=${to.value}&by=${by.value}`;
    csv.href = `/api/v1/ratings/report?${q}&format=csv`;
    let rep;
    try {
      rep = await api(`/api/v1/ratings/report?${q}`);
    } catch (e) {
      body.replaceChildren(errorBox(e.message));
      return;
    }
    if (!rep.rows.length) {
      body.replaceChildren(h('p', { class: 'muted' }, 'За этот период оценок нет.'));
      return;
    }
    body.replaceChildren(h('table', { id: 'ratings', class: 'list' },
      h('thead', {}, h('tr', {}, ['Группа', 'Оценок', 'Средняя', `Низких (≤ ${rep.threshold})`, 'Довольны, %', '1', '2', '3', '4', '5'].map((c) => h('th', {}, c)))),
      h('tbody', {}, rep.rows.map((r) => h('tr', { dataset: { key: r.key ?? '' } },
        h('td', {}, label(rep.by, r)), h('td', {}, r.count), h('td', {}, r.average.toFixed(2)),
        h('td', {}, r.low), h('td', {}, r.satisfied_pct), r.by_value.map((n) => h('td', {}, n)))))));
  }
  for (const el of [from, to, by]) el.addEventListener('change', load);
  root.append(h('h2', {}, 'Оценки жителей'),
    h('div', { class: 'toolbar' }, 'с ', from, ' по ', to, ' ', by, ' ', csv), body);
  await load();
}

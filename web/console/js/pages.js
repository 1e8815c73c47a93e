// The console's pages, in menu order. To add a page: write `pages/<name>.js` exporting
// `render(root, ctx)` (and optionally returning a function called when the user leaves the
// page), then add one entry here. `perm`: the menu item and the page show only to users
// holding at least one of these permissions (empty: everyone); the server checks again.
// `group`: the menu section. See web/console/README.md.

export const GROUPS = [
  ['calls', 'Звонки'],
  ['work', 'Работа'],
  ['supervise', 'Контроль'],
  ['admin', 'Администрирование'],
];

export const PAGES = [
  // The first page a user may see is where the console opens: the ticket journal.
  { path: 'tickets', title: 'Заявки', group: 'work', perm: [], module: '../pages/tickets.js' },
  // Звонки: Очередь/Софтфон — added by its page.
  { path: 'missed', title: 'Пропущенные звонки', group: 'calls', perm: ['take_calls'], module: '../pages/missed.js' },
  // Everyone sees outages (operators tell callers about them); registering needs manage_outages.
  { path: 'outages', title: 'Аварии и отключения', group: 'work', perm: [], module: '../pages/outages.js' },
  // The supervisor's live monitor (pushed over a WebSocket).
  { path: 'monitor', title: 'Монитор', group: 'supervise', perm: ['view_monitor'], module: '../pages/monitor.js' },
  // Residents' ratings of completed tickets (issue 8): satisfaction by executor, topic, building.
  { path: 'ratings', title: 'Оценки жителей', group: 'supervise', perm: ['view_monitor'], module: '../pages/ratings.js' },
  // Who the robot calls for emergency tickets (issue 8): rosters by department, CSV upload.
  { path: 'duty', title: 'График дежурств', group: 'supervise', perm: ['manage_duty'], module: '../pages/duty_roster.js' },
  // Outbound campaigns (issue 8): templates, recipients, run control, live results, CSV/XLSX.
  { path: 'campaigns', title: 'Обзвоны', group: 'admin', perm: ['manage_campaigns'], module: '../pages/campaigns.js' },
  { path: 'admin', title: 'Пользователи и роли', group: 'admin', perm: ['manage_users'], module: '../pages/admin.js' },
];

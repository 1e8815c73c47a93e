// The console's shell: who is logged in, the menu of pages they may use, hash routing
// (`#/tickets`, `#/tickets/1024`), logout, and the way back to the login form when the
// session ends. Pages are listed in pages.js.

import { api, ApiError, hasCsrf, onSessionExpired, setCsrf } from './api.js';
import { showLogin, showPasswordChange } from './login.js';
import { GROUPS, PAGES } from './pages.js';
import { startPhone } from './phone.js';
import { h, errorBox, setTimeZone } from './ui.js';

const ROLE_NAMES = {
  operator: 'оператор', dispatcher: 'диспетчер', executor: 'исполнитель',
  supervisor: 'старший смены', admin: 'администратор',
};

const root = document.getElementById('app');
let me = null;
let leavePage = null;
let expiredNotice = null;
let phone = null;

/** Stops the softphone panel (logout, session end). */
function stopPhone() {
  if (phone) phone.stop();
  phone = null;
  window.zvonarPhone = null;
}

/** Whether the logged-in user holds permission `p`. */
function can(p) {
  return !!me && me.permissions.includes(p);
}

function allowed(page) {
  return page.perm.length === 0 || page.perm.some(can);
}

function currentRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { path: parts[0] || '', params: parts.slice(1) };
}

/** Goes to `#/path/param…`. */
function navigate(path, ...params) {
  location.hash = '#/' + [path, ...params].map(encodeURIComponent).join('/');
}

async function logout() {
  stopPhone();
  try { await api('/api/v1/logout', { method: 'POST' }); } catch (e) { /* gone anyway */ }
  setCsrf(null);
  me = null;
  start();
}

function shell() {
  const visible = PAGES.filter(allowed);
  const nav = h('nav', { class: 'menu', 'aria-label': 'Разделы' });
  for (const [group, title] of GROUPS) {
    const items = visible.filter((p) => p.group === group);
    if (!items.length) continue;
    nav.append(h('div', { class: 'menu-group' }, title),
      ...items.map((p) => h('a', {
        href: `#/${p.path}`,
        dataset: { page: p.path },
        // The page already open: load it again (fresh data).
        onclick: () => { if (location.hash === `#/${p.path}`) route(); },
      }, p.title)));
  }
  const phoneSlot = h('span', { id: 'phone-slot' });
  const header = h('header', { class: 'top' },
    h('span', { class: 'brand' }, 'Звонарь'),
    phoneSlot,
    h('span', { class: 'spacer' }),
    h('span', { class: 'who', title: me.login }, `${me.login} · ${ROLE_NAMES[me.role] || me.role}`),
    h('button', { class: 'link', id: 'logout', onclick: logout }, 'Выйти'));
  const main = h('main', { id: 'page', tabindex: '-1' });
  root.replaceChildren(h('div', { class: 'layout' }, header, nav, main));
  stopPhone();
  if (can('take_calls')) {
    phone = startPhone(phoneSlot, { api });
    // The panel's softphone, for support and the browser tests (its WebRTC stats).
    window.zvonarPhone = phone;
  }
  return { visible, nav, main };
}

let frame = null;

async function route() {
  if (!me || !frame) return;
  const { path, params } = currentRoute();
  const page = frame.visible.find((p) => p.path === path);
  if (!page) {
    const first = frame.visible[0];
    if (first) navigate(first.path);
    else frame.main.replaceChildren(h('p', {}, 'Для вашей роли нет доступных разделов.'));
    return;
  }
  for (const a of frame.nav.querySelectorAll('a')) {
    a.classList.toggle('active', a.dataset.page === page.path);
  }
  if (typeof leavePage === 'function') leavePage();
  leavePage = null;
  const main = frame.main;
  main.replaceChildren(h('p', { class: 'muted' }, 'Загрузка…'));
  document.title = `${page.title} — Звонарь`;
  try {
    const mod = await import(page.module);
    if (currentRoute().path !== path) return;
    main.replaceChildren();
    leavePage = await mod.render(main, { me, api, can, params, navigate });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    main.replaceChildren(errorBox(e instanceof ApiError ? e.message : `Ошибка страницы: ${e.message}`));
  }
}

async function start() {
  frame = null;
  if (typeof leavePage === 'function') leavePage();
  leavePage = null;
  try {
    me = hasCsrf() ? await api('/api/v1/me', { login: true }) : null;
  } catch (e) {
    me = null;
  }
  if (!me) {
    const notice = expiredNotice;
    expiredNotice = null;
    me = await showLogin(root, notice);
  }
  if (me.must_change_password) {
    await showPasswordChange(root, me);
    me = await api('/api/v1/me');
  }
  if (me.time_zone) setTimeZone(me.time_zone);
  frame = shell();
  route();
}

onSessionExpired(() => {
  if (!me) return;
  stopPhone();
  me = null;
  setCsrf(null);
  expiredNotice = 'Сеанс завершён (долгое бездействие или выход в другой вкладке). Войдите снова.';
  start();
});
window.addEventListener('hashchange', route);
start();

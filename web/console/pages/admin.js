// Администрирование → Пользователи и роли: the list of users, a new user (who must change
// the first password), password reset, role and blocking; each role's permissions.

import { h, fmtDateTime, toast, errorBox } from '../js/ui.js';

export const ROLES = {
  operator: 'оператор', dispatcher: 'диспетчер', executor: 'исполнитель',
  supervisor: 'старший смены', admin: 'администратор',
};
export const PERMISSIONS = {
  take_calls: 'принимать звонки',
  create_tickets: 'создавать заявки',
  transfer_tickets: 'назначать и передавать заявки',
  complete_tickets: 'выполнять заявки',
  close_tickets: 'закрывать заявки',
  change_ticket_topic: 'менять тему заявки',
  listen_recordings: 'слушать записи',
  download_recordings: 'скачивать записи',
  manage_outages: 'вести отключения',
  manage_users: 'управлять пользователями',
  view_monitor: 'видеть монитор',
  read_audit: 'читать журнал действий',
  manage_campaigns: 'вести автообзвон',
  rate_tickets: 'оценивать заявки (приложение жителей)',
  manage_duty: 'вести график дежурств',
};

const roleSelect = (value, attrs = {}) => h('select', attrs,
  Object.entries(ROLES).map(([k, v]) => h('option', { value: k, selected: k === value }, v)));

export async function render(root, ctx) {
  const [users, roles] = await Promise.all([ctx.api('/api/v1/users'), ctx.api('/api/v1/roles')]);
  const reload = () => { root.replaceChildren(); return render(root, ctx); };
  const run = async (fn, done) => {
    try { await fn(); toast(done); await reload(); } catch (e) { toast(e.message, 'error'); }
  };

  const rows = users.map((u) => {
    const role = roleSelect(u.role, { 'aria-label': `роль ${u.login}` });
    role.addEventListener('change', () => run(
      () => ctx.api(`/api/v1/users/${u.id}`, { method: 'PATCH', body: { role: role.value } }),
      `Роль ${u.login} изменена`));
    return h('tr', { dataset: { login: u.login } },
      h('td', {}, u.login), h('td', {}, u.display_name), h('td', {}, role),
      h('td', {}, u.disabled ? 'заблокирован' : (u.must_change_password ? 'сменит пароль при входе' : 'активен')),
      h('td', {}, fmtDateTime(u.created_at)),
      h('td', {},
        h('button', { class: 'reset', onclick: () => {
          const p = window.prompt(`Новый пароль для ${u.login} (сменит при входе):`);
          if (p) run(() => ctx.api(`/api/v1/users/${u.id}/password`, { method: 'POST', body: { password: p } }), `Пароль ${u.login} сброшен`);
        } }, 'Сбросить пароль'), ' ',
        h('button', { class: 'block', onclick: () => run(
          () => ctx.api(`/api/v1/users/${u.id}`, { method: 'PATCH', body: { disabled: !u.disabled } }),
          u.disabled ? 'Разблокирован' : 'Заблокирован') }, u.disabled ? 'Разблокировать' : 'Заблокировать')));
  });

  const err = h('div', { class: 'form-error' });
  const nu = {
    login: h('input', { id: 'u-login', required: true, autocomplete: 'off' }),
    display_name: h('input', { id: 'u-name' }),
    role: roleSelect('operator', { id: 'u-role' }),
    password: h('input', { id: 'u-password', type: 'password', autocomplete: 'new-password', required: true }),
  };
  const add = h('form', { class: 'filters', id: 'new-user' },
    h('label', {}, 'Логин', nu.login), h('label', {}, 'Имя', nu.display_name),
    h('label', {}, 'Роль', nu.role), h('label', {}, 'Пароль (сменит при входе)', nu.password),
    h('button', { type: 'submit', class: 'primary', id: 'u-add' }, 'Добавить'), err);
  add.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.replaceChildren();
    try {
      await ctx.api('/api/v1/users', { method: 'POST', body: {
        login: nu.login.value.trim(), display_name: nu.display_name.value.trim(),
        role: nu.role.value, password: nu.password.value,
      } });
      toast(`Пользователь ${nu.login.value} добавлен`);
      await reload();
    } catch (ex) {
      err.append(errorBox(ex.message));
    }
  });

  const perms = Object.keys(PERMISSIONS);
  const roleTable = h('table', { class: 'list', id: 'roles' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Право'), Object.values(ROLES).map((r) => h('th', {}, r)))),
    h('tbody', {}, perms.map((p) => h('tr', {}, h('td', {}, PERMISSIONS[p]),
      Object.keys(ROLES).map((r) => h('td', {}, h('input', {
        type: 'checkbox', dataset: { role: r, perm: p },
        checked: (roles[r] || []).includes(p),
        'aria-label': `${ROLES[r]}: ${PERMISSIONS[p]}`,
      })))))),
    h('tfoot', {}, h('tr', {}, h('td', {}), Object.keys(ROLES).map((r) => h('td', {},
      h('button', { dataset: { saveRole: r }, onclick: () => {
        const list = [...roleTable.querySelectorAll(`input[data-role="${r}"]`)].filter((c) => c.checked).map((c) => c.dataset.perm);
        run(() => ctx.api(`/api/v1/roles/${r}`, { method: 'PUT', body: { permissions: list } }), `Права роли «${ROLES[r]}» сохранены`);
      } }, 'Сохранить'))))));

  root.append(h('h2', {}, 'Пользователи'), add,
    h('table', { class: 'list', id: 'users' },
      h('thead', {}, h('tr', {}, ['Логин', 'Имя', 'Роль', 'Состояние', 'Создан', ''].map((x) => h('th', {}, x)))),
      h('tbody', {}, rows)),
    h('h2', { style: 'margin-top:16px' }, 'Права ролей'), roleTable);
}

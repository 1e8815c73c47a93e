// The login form and the forced password change after an admin's reset.

import { api, ApiError, setCsrf } from './api.js';
import { h, errorBox } from './ui.js';

/** Shows the login form in `root`; resolves with /me's user once logged in. */
export function showLogin(root, notice) {
  return new Promise((resolve) => {
    const err = h('div', { class: 'form-error' });
    const login = h('input', { id: 'login', name: 'login', autocomplete: 'username', required: true, autofocus: true });
    const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const button = h('button', { type: 'submit', class: 'primary' }, 'Войти');
    const form = h('form', { class: 'login-box', novalidate: true },
      h('h1', {}, 'Звонарь'),
      h('p', { class: 'muted' }, 'Консоль оператора'),
      notice ? h('div', { class: 'notice', role: 'status' }, notice) : null,
      h('label', { for: 'login' }, 'Логин'), login,
      h('label', { for: 'password' }, 'Пароль'), password,
      err, button);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.replaceChildren();
      if (!login.value.trim() || !password.value) {
        err.append(errorBox('Введите логин и пароль'));
        return;
      }
      button.disabled = true;
      try {
        const me = await api('/api/v1/login', {
          method: 'POST', login: true,
          body: { login: login.value.trim(), password: password.value },
        });
        setCsrf(me.csrf_token);
        delete me.csrf_token;
        resolve(me);
      } catch (ex) {
        err.append(errorBox(ex instanceof ApiError ? ex.message : String(ex)));
        password.value = '';
        password.focus();
      } finally {
        button.disabled = false;
      }
    });
    root.replaceChildren(h('main', { class: 'login-page' }, form));
    login.focus();
  });
}

/** The forced password change; resolves once the new password is set. */
export function showPasswordChange(root, me) {
  return new Promise((resolve) => {
    const err = h('div', { class: 'form-error' });
    const current = h('input', { id: 'current', type: 'password', autocomplete: 'current-password', required: true });
    const next = h('input', { id: 'new', type: 'password', autocomplete: 'new-password', required: true });
    const again = h('input', { id: 'again', type: 'password', autocomplete: 'new-password', required: true });
    const button = h('button', { type: 'submit', class: 'primary' }, 'Сменить пароль');
    const form = h('form', { class: 'login-box', novalidate: true },
      h('h1', {}, 'Смена пароля'),
      h('p', {}, `${me.login}, администратор сбросил ваш пароль. Задайте новый, чтобы продолжить.`),
      h('label', { for: 'current' }, 'Текущий (выданный) пароль'), current,
      h('label', { for: 'new' }, 'Новый пароль'), next,
      h('label', { for: 'again' }, 'Новый пароль ещё раз'), again,
      err, button);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.replaceChildren();
      if (next.value !== again.value) {
        err.append(errorBox('Новые пароли не совпадают'));
        return;
      }
      button.disabled = true;
      try {
        await api('/api/v1/me/password', {
          method: 'POST',
          body: { current_password: current.value, new_password: next.value },
        });
        resolve();
      } catch (ex) {
        // A wrong current password is a 400 from the server, not an expired session.
        err.append(errorBox(ex.status === 400 ? `Пароль не изменён: ${ex.message}` : ex.message));
      } finally {
        button.disabled = false;
      }
    });
    root.replaceChildren(h('main', { class: 'login-page' }, form));
    current.focus();
  });
}

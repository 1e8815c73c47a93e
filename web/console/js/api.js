// The JSON API as the console uses it: same-origin session cookie, the login's CSRF token
// on every change (X-CSRF-Token), errors as ApiError with a Russian message. A 401 on any
// request but the login means the session ended: the app shows the login form again.

const CSRF_KEY = 'zvonar.csrf';

/** An API call that failed: `status` (HTTP) and `message` (for the user, Russian). */
export class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** Remembers the CSRF token a login returned (shared by the tabs of this browser). */
export function setCsrf(token) {
  if (token) localStorage.setItem(CSRF_KEY, token);
  else localStorage.removeItem(CSRF_KEY);
}

export function hasCsrf() {
  return !!localStorage.getItem(CSRF_KEY);
}

let onExpired = () => {};
/** `fn()` runs when a request answers 401 (the session expired or was ended). */
export function onSessionExpired(fn) {
  onExpired = fn;
}

/** Waits `s` seconds, written for a person («2 мин», «40 с»). */
export function waitText(s) {
  if (!s) return '';
  return s >= 90 ? `${Math.ceil(s / 60)} мин` : `${s} с`;
}

function messageFor(status, body, retryAfter) {
  const server = body && typeof body.error === 'string' ? body.error : '';
  switch (status) {
    case 401: return 'Неверный логин или пароль';
    case 403: return server || 'Недостаточно прав';
    case 404: return 'Не найдено';
    case 413: return 'Файл слишком большой';
    case 423: return `Вход временно заблокирован после нескольких неудачных попыток. Повторите через ${waitText(retryAfter)}.`;
    case 429: return `Слишком много попыток входа с этого компьютера. Повторите через ${waitText(retryAfter)}.`;
    default:
      if (status >= 500) return 'Ошибка сервера. Повторите позже или сообщите администратору.';
      return server || `Ошибка ${status}`;
  }
}

/**
 * Calls the API. `opts`: `method` (GET), `body` (JSON-encoded unless FormData or a Blob/File),
 * `raw` (return the Response), `login` (a 401 is a wrong password, not an expired session).
 * Resolves with the parsed JSON (null for 204); rejects with ApiError.
 */
export async function api(path, opts = {}) {
  const method = opts.method || 'GET';
  const headers = {};
  let body;
  if (opts.body instanceof FormData) {
    body = opts.body;
  } else if (opts.body instanceof Blob) {
    // A file sent as it is (a photo): its own type.
    headers['Content-Type'] = opts.body.type || 'application/octet-stream';
    body = opts.body;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (method !== 'GET' && method !== 'HEAD') {
    const t = localStorage.getItem(CSRF_KEY);
    if (t) headers['X-CSRF-Token'] = t;
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body, credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'Нет связи с сервером');
  }
  if (resp.status === 401 && !opts.login) {
    onExpired();
    throw new ApiError(401, 'Сеанс завершён: войдите снова');
  }
  if (!resp.ok) {
    let data = null;
    try { data = await resp.json(); } catch (e) { /* not JSON */ }
    const ra = Number(resp.headers.get('Retry-After')) || 0;
    throw new ApiError(resp.status, messageFor(resp.status, data, ra), ra);
  }
  if (opts.raw) return resp;
  if (resp.status === 204) return null;
  const type = resp.headers.get('Content-Type') || '';
  return type.includes('json') ? resp.json() : resp.text();
}

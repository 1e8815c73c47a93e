// The console's shell: login errors in Russian (wrong password, 423 lockout, 429 rate
// limit), the forced password change after an admin's reset, menu items by permission,
// logout, and the way back to the login form when the server ends the session.
//
// Env: ZVONAR_URL, ZVONAR_TOKEN (service token, to reset a password as an admin would),
// OPERATOR / OPERATOR_PASSWORD (an operator who must change the password at first login),
// OPERATOR_NEW_PASSWORD, LOCKME (a login to lock out).

import { run, need, check, login } from './lib.mjs';

run(async ({ page, url, shot }) => {
  const op = need('OPERATOR');
  const pass = need('OPERATOR_PASSWORD');
  const newPass = need('OPERATOR_NEW_PASSWORD');
  const errorText = () => page.locator('.form-error .error').innerText();

  // Wrong password: the Russian message, still on the login form.
  await page.goto(`${url}/`);
  await page.waitForSelector('#login');
  await shot('login');
  await login(page, url, op, 'неправильный пароль');
  const wrong = await errorText();
  check(wrong.includes('Неверный логин или пароль'), 'wrong-password message', wrong);

  // First login after an admin set the password: the change form, then the console.
  await login(page, url, op, pass);
  await page.waitForSelector('#new');
  await page.fill('#current', pass);
  await page.fill('#new', newPass);
  await page.fill('#again', newPass + 'x');
  await page.click('button[type=submit]');
  const mismatch = await page.locator('.form-error .error').innerText();
  check(mismatch.includes('не совпадают'), 'mismatch message', mismatch);
  await page.fill('#again', newPass);
  await page.click('button[type=submit]');
  await page.waitForSelector('nav.menu');
  const menu = await page.locator('nav.menu a').allInnerTexts();
  const who = await page.locator('header .who').innerText();
  check(who.includes(op) && who.includes('оператор'), 'header names the operator', who);
  await shot('shell');

  // The server ends the session (an admin resets the password): the next request goes
  // back to the login form with a notice.
  const token = need('ZVONAR_TOKEN');
  const me = await (await fetch(`${url}/api/v1/users`, { headers: { Authorization: `Bearer ${token}` } })).json();
  const id = me.find((u) => u.login === op).id;
  const reset = await fetch(`${url}/api/v1/users/${id}/password`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ password: newPass + '-admin' }),
  });
  check(reset.status === 204, 'admin reset', reset.status);
  await page.click('nav.menu a');
  await page.waitForSelector('#login');
  const notice = await page.locator('.notice').innerText();
  check(notice.includes('Сеанс завершён'), 'expiry notice', notice);

  // Log in again (forced change again), then log out.
  await login(page, url, op, newPass + '-admin');
  await page.fill('#current', newPass + '-admin');
  await page.fill('#new', newPass);
  await page.fill('#again', newPass);
  await page.click('button[type=submit]');
  await page.waitForSelector('nav.menu');
  const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  check(cookie.includes('zvonar_session='), 'session cookie', cookie);
  const before = await fetch(`${url}/api/v1/me`, { headers: { Cookie: cookie } });
  check(before.status === 200, 'session alive before logout', before.status);
  await page.click('#logout');
  await page.waitForSelector('#login');
  const after = await fetch(`${url}/api/v1/me`, { headers: { Cookie: cookie } });
  check(after.status === 401, 'session gone after logout', after.status);

  // Lockout (423) and then the per-address rate limit (429), both in Russian.
  const lockme = need('LOCKME');
  const seen = [];
  for (let i = 0; i < 40; i++) {
    await login(page, url, lockme, 'всё время неверный');
    const msg = await errorText();
    seen.push(msg);
    if (msg.includes('Слишком много попыток')) break;
  }
  const locked = seen.find((m) => m.includes('заблокирован'));
  const limited = seen.find((m) => m.includes('Слишком много попыток'));
  check(locked && /Повторите через \d+/.test(locked), '423 message', seen);
  check(limited && /Повторите через \d+/.test(limited), '429 message', seen);
  await shot('login-locked');
  return { menu, wrong, locked, limited, notice };
});

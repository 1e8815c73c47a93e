// Администрирование: an admin sees the page (an operator does not, see shell.mjs), adds a
// user, resets their password, gives the executor role a permission.
//
// Env: ZVONAR_URL, ADMIN, ADMIN_PASSWORD.

import { run, need, check, login } from './lib.mjs';

run(async ({ page, url, shot }) => {
  await login(page, url, need('ADMIN'), need('ADMIN_PASSWORD'));
  const menu = await page.locator('nav.menu a').allInnerTexts();
  check(menu.includes('Пользователи и роли'), 'admin menu', menu);
  await page.click('text=Пользователи и роли');
  await page.waitForSelector('#users');
  await page.fill('#u-login', 'kuznetsov');
  await page.fill('#u-name', 'Кузнецов П.');
  await page.selectOption('#u-role', 'dispatcher');
  await page.fill('#u-password', 'коротко');
  await page.click('#u-add');
  const weak = await page.locator('#new-user .error').innerText();
  check(weak.includes('пароль короче'), 'weak password refused in Russian', weak);
  await page.fill('#u-password', 'временный пароль 1');
  await page.click('#u-add');
  await page.waitForSelector('tr[data-login="kuznetsov"]');
  page.once('dialog', (d) => d.accept('сброшенный пароль 2'));
  await page.click('tr[data-login="kuznetsov"] button.reset');
  await page.waitForFunction(() => [...document.querySelectorAll('.toast')].some((t) => t.innerText.includes('сброшен')));
  await page.waitForSelector('tr[data-login="kuznetsov"]');
  await page.check('input[data-role="executor"][data-perm="transfer_tickets"]');
  await page.click('button[data-save-role="executor"]');
  await page.waitForFunction(() => [...document.querySelectorAll('.toast')].some((t) => t.innerText.includes('сохранены')));
  await page.waitForSelector('input[data-role="executor"][data-perm="transfer_tickets"]:checked');
  await shot('admin');
  return { menu, weak };
});

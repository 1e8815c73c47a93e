// «График дежурств» in the console: a supervisor sees the departments' rosters, uploads a
// CSV with a bad line (every error shown, nothing stored), then a good one (the roster
// shows the shifts in order and the supervisor last).
//
// Env: ZVONAR_URL, BOSS, BOSS_PASSWORD, USER_ID (a user for the roster).

import { run, need, check, login } from './lib.mjs';

run(async ({ page, url, shot }) => {
  const uid = need('USER_ID');
  await login(page, url, need('BOSS'), need('BOSS_PASSWORD'));
  const menu = await page.locator('nav.menu a').allInnerTexts();
  check(menu.some((m) => m.includes('График дежурств')), 'the menu item', menu);
  await page.goto(`${url}/console/#/duty`);
  await page.waitForSelector('#roster-upload');
  const before = await page.locator('.roster[data-department="Сантехники"]').innerText();
  check(before.includes('Иванов') && before.includes('account:101'), 'the stored roster', before);

  const head = 'department;days;start;end;order;user_id;name;phone\n';
  await page.setInputFiles('#roster-file', {
    name: 'bad.csv', mimeType: 'text/csv',
    buffer: Buffer.from(`${head}Лифтовая служба;пн-пт;08:00;17:00;1;${uid};Иванов;account:101\nЛифтовая служба;пн;08:00;17:00;2;${uid};Иванов;12ab\n`),
  });
  await page.click('#roster-upload');
  await page.waitForSelector('#roster-errors .error');
  const errors = await page.locator('#roster-errors').innerText();
  check(errors.includes('строка 3') && errors.includes('12ab'), 'the bad line named', errors);
  check(!(await page.locator('.roster[data-department="Лифтовая служба"]').count()), 'nothing stored');
  await shot('roster-error');

  await page.setInputFiles('#roster-file', {
    name: 'good.csv', mimeType: 'text/csv',
    buffer: Buffer.from(`${head}Лифтовая служба;все;20:00;08:00;2;${uid};Иванов ночью;+79160000001\n`
      + `Лифтовая служба;пн-пт;08:00;20:00;1;${uid};Иванов днём;account:101\n`
      + `Лифтовая служба;;;;supervisor;${uid};Главный;+79160000009\n`),
  });
  await page.click('#roster-upload');
  await page.waitForSelector('.roster[data-department="Лифтовая служба"] tbody tr');
  const rows = await page.locator('.roster[data-department="Лифтовая служба"] tbody tr').allInnerTexts();
  await shot('roster');
  return { menu, errors, rows };
});

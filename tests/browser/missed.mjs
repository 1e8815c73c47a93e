// Missed calls and outages in the console: an operator sees the missed call with its
// recording, records a callback attempt and opens the caller's card; a dispatcher registers
// an outage on a building and closes it.
//
// Env: ZVONAR_URL, OPERATOR/OPERATOR_PASSWORD, DISPATCHER/DISPATCHER_PASSWORD, NUMBER (the
// missed caller, E.164), BUILDING (an address to register the outage on), OUTAGE_START (a
// `datetime-local` value the dispatcher types as the outage's start). The test may run the
// browser in another time zone than the company's (TZ_NAME): the pages show and take times in
// the company's zone. `RESULT` has the missed call's `last` column, the outage form's default
// start and the registered row.

import { run, need, check, login } from './lib.mjs';

run(async ({ page, url, shot }) => {
  const number = need('NUMBER');
  await login(page, url, need('OPERATOR'), need('OPERATOR_PASSWORD'));
  const menu = await page.locator('nav.menu a').allInnerTexts();
  check(menu.includes('Пропущенные звонки'), 'menu has missed calls', menu);
  await page.goto(`${url}/console/#/missed`);
  const row = page.locator(`table#missed tr[data-number="${number}"]`);
  await row.waitFor();
  const last = await row.locator('td:nth-child(3)').innerText();
  check(await row.locator('audio').count() === 1, 'a recording to play');
  const src = await row.locator('audio').getAttribute('src');
  const wav = await page.evaluate(async (s) => (await fetch(s)).status, src);
  check(wav === 200, 'the recording is served', wav);
  await shot('missed-list');
  await row.locator('button.callback').click();
  await page.fill('tr.attempt-form input[name=comment]', 'не берут трубку');
  await page.click('tr.attempt-form button[data-outcome=no_answer]');
  await page.locator(`table#missed tr[data-number="${number}"] td:nth-child(6)`, { hasText: 'не отвечает' }).waitFor();
  const attempts = await page.locator(`table#missed tr[data-number="${number}"] td:nth-child(6)`).innerText();
  await page.click(`table#missed tr[data-number="${number}"] td:first-child a`);
  await page.locator('#caller-card .caller-card').waitFor();
  const card = await page.locator('#caller-card').innerText();
  await shot('missed-card');
  await page.click('#logout');
  await page.waitForSelector('#login');

  await login(page, url, need('DISPATCHER'), need('DISPATCHER_PASSWORD'));
  await page.goto(`${url}/console/#/outages`);
  await page.waitForSelector('form#new-outage');
  await page.selectOption('form#new-outage select[name=resource]', 'cold_water');
  const building = need('BUILDING');
  await page.locator('form#new-outage label', { hasText: building }).locator('input').check();
  await page.fill('form#new-outage textarea[name=text]', 'Порыв на вводе');
  const startDefault = await page.inputValue('form#new-outage input[name=starts_at]');
  await page.fill('form#new-outage input[name=starts_at]', need('OUTAGE_START'));
  await page.click('form#new-outage button[type=submit]');
  const outRow = page.locator('table#outages tr', { hasText: 'Порыв на вводе' });
  await outRow.waitFor();
  const registered = await outRow.innerText();
  await shot('outages');
  await outRow.locator('button.close-outage').click();
  // Closed: gone from the current list (the imported outage on another street stays).
  await outRow.waitFor({ state: 'detached' });
  const left = await page.locator('table#outages tbody tr').count();
  return { menu, attempts, card, registered, left, last, startDefault };
});

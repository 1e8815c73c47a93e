// The resident's rating on the console's ticket card: a supervisor opens the ticket the rating
// robot called about, sees the rating (value, how it was given, the quality-control ticket) and
// follows the link to the quality-control ticket, then reads the satisfaction report by topic.
//
// Env: ZVONAR_URL, SUPERVISOR/SUPERVISOR_PASSWORD, TICKET (the rated ticket's id).

import { run, need, check, login } from './lib.mjs';

run(async ({ page, url, shot }) => {
  await login(page, url, need('SUPERVISOR'), need('SUPERVISOR_PASSWORD'));
  await page.goto(`${url}/console/#/tickets/${need('TICKET')}`);
  await page.locator('#rating-value').waitFor();
  const rating = await page.locator('#rating').innerText();
  const audio = await page.locator('#rating-recording').count();
  await shot('rating-card');
  await page.click('#rating-qc');
  await page.locator('.page-head h2', { hasText: 'Заявка №' }).waitFor();
  await page.waitForFunction(() => location.hash.startsWith('#/tickets/') && document.querySelector('#rating') !== null);
  const qc = await page.locator('.page-head h2').innerText();
  const qcDetails = await page.locator('.kv').first().innerText();
  check(audio === 1, 'the rating call can be played', audio);
  await shot('qc-card');
  // The satisfaction report, by topic.
  const menu = await page.locator('nav.menu a').allInnerTexts();
  check(menu.includes('Оценки жителей'), 'menu has the ratings report', menu);
  await page.goto(`${url}/console/#/ratings`);
  // The default period: this month up to today, in the company's time zone.
  const period = [await page.inputValue('input[name=from]'), await page.inputValue('input[name=to]')];
  await page.selectOption('select[name=by]', 'topic');
  await page.locator('table#ratings tbody tr', { hasText: 'Лифт' }).waitFor();
  const report = await page.locator('table#ratings').innerText();
  const csv = await page.evaluate(async () => {
    const r = await fetch(document.querySelector('#ratings-csv').href);
    return `${r.status} ${await r.text()}`;
  });
  await shot('ratings-report');
  return { rating, qc, qcDetails, report, csv, period };
});

// The resident's rating on the console's ticket card: a supervisor opens the ticket the rating
// robot called about, sees the rating (value, how it was given, the quality-control ticket) and
// follows the link to the quality-control ticket.
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
  return { rating, qc, qcDetails };
});

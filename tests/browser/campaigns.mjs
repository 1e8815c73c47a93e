// Обзвоны in the console: an admin hears how the robot will speak a template, is told about an
// unknown variable, saves the template, creates a campaign from it with an uploaded CSV list of
// two recipients, sees the draft, starts it, watches the live table reach «подтвердил» and
// «занято», plays the answered call's recording and downloads the XLSX. A supervisor does not
// see the page.
//
// Env: ZVONAR_URL, ADMIN/ADMIN_PASSWORD, SUPERVISOR/SUPERVISOR_PASSWORD (no manage_campaigns), RECIPIENTS_CSV (the list), ZONE (an IANA zone whose
// call window is open now), TEMPLATE_TEXT, QUESTION.

import path from 'node:path';
import { run, need, check, login } from './lib.mjs';

run(async ({ page, url, shot, dir, newContext }) => {
  await login(page, url, need('ADMIN'), need('ADMIN_PASSWORD'));
  const menu = await page.locator('nav.menu a').allInnerTexts();
  check(menu.includes('Обзвоны'), 'the menu has Обзвоны', menu);
  await page.click('nav.menu a[data-page=campaigns]');
  // No campaign yet: the form is open.
  await page.locator('#campaigns-empty').waitFor();
  const form = page.locator('#campaign-form');
  await form.waitFor();

  // A typo in a variable: the server names it, nothing is saved.
  await form.locator('input[name=template_name]').fill('Долг за ЖКУ');
  await form.locator('textarea[name=template]').fill('Ваш долг {dolg}.');
  await page.click('#save-template');
  await page.locator('#campaign-error', { hasText: '{dolg}' }).waitFor();
  const typoError = await page.locator('#campaign-error').innerText();

  // The real text, with the question; the spoken preview.
  await form.locator('textarea[name=template]').fill(need('TEMPLATE_TEXT'));
  await form.locator('input[name=ask]').check();
  await form.locator('textarea[name=question]').fill(need('QUESTION'));
  await page.click('#speak-preview');
  await page.locator('#spoken-preview', { hasText: 'рубля' }).waitFor();
  const spoken = await page.locator('#spoken-preview').innerText();
  await shot('template-preview');
  await page.click('#save-template');
  await page.waitForFunction(() => document.querySelector('select[name=template_id]').selectedOptions[0]?.textContent === 'Долг за ЖКУ');

  // The campaign: name, kind, the uploaded list (its preview), schedule and pacing.
  await form.locator('input[name=name]').fill('Должники декабрь');
  await form.locator('select[name=kind]').selectOption('debt');
  await form.locator('textarea[name=recipients_csv]').fill(need('RECIPIENTS_CSV'));
  await page.click('#preview-recipients');
  await page.locator('#recipients-count').waitFor();
  const preview = await page.locator('#recipients-preview').innerText();
  await form.locator('input[name=time_zone]').fill(need('ZONE'));
  await form.locator('input[name=channels]').fill('2');
  await form.locator('input[name=per_minute]').fill('60');
  await form.locator('input[name=ring_timeout_s]').fill('10');
  await form.locator('input[name=retries_busy]').fill('0');
  await form.locator('input[name=retries_no_answer]').fill('0');
  await shot('new-campaign');
  await page.click('#create-campaign');

  // The draft: both recipients queued.
  await page.locator('#campaign-state[data-state=draft]').waitFor();
  const id = Number((await page.evaluate(() => location.hash)).split('/').pop());
  check(await page.locator('#recipients tbody tr').count() === 2, 'two recipients in the draft');
  const draftTemplate = await page.locator('#campaign-template').innerText();
  await shot('draft');

  // Start; the live table refreshes by itself.
  await page.click('#start');
  await page.locator('#campaign-state[data-state=running], #campaign-state[data-state=finished]').waitFor();
  await page.locator('#recipients tr[data-id=ls-1][data-status=confirmed]').waitFor({ timeout: 90_000 });
  await page.locator('#recipients tr[data-id=ls-2][data-status=busy]').waitFor({ timeout: 90_000 });
  await page.locator('#campaign-state[data-state=finished]').waitFor({ timeout: 30_000 });
  const rows = await page.locator('#recipients tbody tr').allInnerTexts();
  const totals = await page.locator('#campaign-totals').innerText();
  await shot('finished');

  // The answered call's recording plays from the table.
  const audio = await page.locator('#recipients tr[data-id=ls-1] audio.recording').getAttribute('src');
  const rec = await page.evaluate(async (src) => {
    const r = await fetch(src);
    return { status: r.status, type: r.headers.get('Content-Type'), bytes: (await r.arrayBuffer()).byteLength };
  }, audio);

  // XLSX download.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-xlsx')]);
  const xlsx = path.join(dir, 'campaign.xlsx');
  await download.saveAs(xlsx);

  // The list: the campaign with its totals.
  await page.click('nav.menu a[data-page=campaigns]');
  await page.locator('#campaigns tbody tr').first().waitFor();
  const list = await page.locator('#campaigns').innerText();
  await shot('campaigns');

  // A supervisor (no manage_campaigns) has no Обзвоны in the menu, and the address leads elsewhere.
  const other = await (await newContext()).newPage();
  await login(other, url, need('SUPERVISOR'), need('SUPERVISOR_PASSWORD'));
  const otherMenu = await other.locator('nav.menu a').allInnerTexts();
  await other.goto(`${url}/console/#/campaigns`);
  await other.waitForFunction(() => !location.hash.startsWith('#/campaigns'));
  const otherForm = await other.locator('#campaign-form, #campaigns').count();
  return { id, typoError, spoken, preview, draftTemplate, rows, totals, rec, xlsx, list, otherMenu, otherForm };
});

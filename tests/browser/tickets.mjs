// Tickets in the console: an operator files a ticket during a call (the form opened as
// `#/tickets/new/<call id>`, as the softphone page does), the card plays the call's
// recording, the ticket is taken into work, commented and a photo attached; the journal is
// filtered and exported (XLSX and CSV saved next to the screenshots).
//
// Env: ZVONAR_URL, OPERATOR, OPERATOR_PASSWORD, CALL_ID (a recorded call).

import fs from 'node:fs';
import path from 'node:path';
import { run, need, check, login } from './lib.mjs';

// A real 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

run(async ({ page, url, shot, dir }) => {
  const op = need('OPERATOR');
  const callId = need('CALL_ID');
  await page.goto(`${url}/console/`);
  await page.waitForSelector('#login');
  await shot('login');
  await login(page, url, op, need('OPERATOR_PASSWORD'));
  await page.waitForSelector('#tickets tbody tr');
  // Nothing absent is shown as the word «null» (the duty banner, when there is none).
  const journal = await page.innerText('main');
  check(!/\bnull\b/.test(journal), 'no «null» on the journal page', journal.slice(0, 300));

  // New ticket during the call.
  await page.goto(`${url}/console/#/tickets/new/${encodeURIComponent(callId)}`);
  await page.waitForSelector('#new-ticket-form');
  check(await page.inputValue('#t-call') === callId, 'call id prefilled');
  await page.selectOption('#t-topic', 'leak');
  await page.check('#t-emergency');
  const sla = await page.locator('#sla').innerText();
  check(/Срок выполнения: \d+ ч/.test(sla), 'SLA shown', sla);
  const buildings = await page.locator('#t-building option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  check(buildings.length > 0, 'buildings from the registry');
  await page.selectOption('#t-building', buildings[0]);
  const building = (await page.locator('#t-building option:checked').innerText()).trim();
  await page.fill('#t-apartment', '12');
  await page.fill('#t-caller', '8 (916) 123-45-67');
  await page.fill('#t-description', 'Течёт труба под раковиной, соседей снизу заливает');
  await page.click('#t-submit');
  await page.waitForSelector('#actions');
  const heading = await page.locator('.page-head h2').innerText();
  const number = (heading.match(/№ (\d+)/) || [])[1];
  check(number, 'ticket number in the card', heading);
  check(heading.includes('новая') && heading.includes('аварийная'), 'status and emergency', heading);

  // The call's recording plays in the card (range requests).
  await page.waitForFunction(() => {
    const a = document.querySelector('#recording');
    return a && a.readyState >= 1 && a.duration > 0;
  }, null, { timeout: 20_000 });
  const duration = await page.locator('#recording').evaluate((a) => a.duration);
  // An operator may not close or re-topic tickets: those buttons are not there.
  check(await page.locator('#close').count() === 0, 'no close button for an operator');
  check(await page.locator('#change-topic').count() === 0, 'no topic change for an operator');

  await page.click('#take');
  await page.waitForFunction(() => {
    const e = document.querySelector('.page-head h2');
    return e && e.innerText.includes('в работе');
  });
  await page.fill('#comment-text', 'Жилец дома до 18:00');
  await page.click('#add-comment');
  await page.waitForSelector('#comments .comment');
  await page.setInputFiles('#photo-file', { name: 'труба.png', mimeType: 'image/png', buffer: PNG });
  await page.waitForSelector('#photos img');
  await page.waitForFunction(() => {
    const img = document.querySelector('#photos img');
    return img && img.complete && img.naturalWidth === 1;
  });
  await shot('ticket-card');

  // The journal: filtered to this ticket's topic and status, then to nothing.
  await page.click('a[href="#/tickets"]');
  await page.waitForSelector('#filters');
  await page.selectOption('#f-topic', 'leak');
  await page.selectOption('#f-status', 'in_progress');
  await page.click('#apply');
  await page.waitForFunction((n) => {
    const rows = [...document.querySelectorAll('#tickets tbody tr')];
    return rows.length === 1 && rows[0].innerText.includes(n);
  }, number);
  const row = await page.locator('#tickets tbody tr').first().getAttribute('class');
  check(row.includes('row-in_progress'), 'in-progress colour', row);
  const total = await page.locator('#total').innerText();
  await shot('ticket-journal');

  // Export what is shown.
  const save = async (sel, name) => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(sel)]);
    const file = path.join(dir, name);
    await dl.saveAs(file);
    return file;
  };
  const xlsx = await save('#export-xlsx', 'journal.xlsx');
  const csv = await save('#export-csv', 'journal.csv');
  check(fs.readFileSync(xlsx).subarray(0, 2).toString() === 'PK', 'xlsx is a zip');

  await page.selectOption('#f-status', 'closed');
  await page.click('#apply');
  await page.waitForFunction(() => {
    const b = document.querySelector('#tickets tbody');
    return b && b.innerText.includes('Заявок не найдено');
  });
  await page.click('#reset');
  await page.waitForFunction(() => document.querySelectorAll('#tickets tbody tr.clickable').length >= 2);
  await shot('ticket-journal-all');
  return { number, building, duration, total, xlsx, csv };
});

// Оповещение дежурных in the console: the journal's red alarm links an emergency ticket
// nobody on duty accepted; the card of an emergency ticket whose escalation is calling
// shows who is being called and «Принять заявку»; pressing it assigns the ticket to the
// dispatcher, stops the escalation and the card says so.
//
// Env: ZVONAR_URL, DISP, DISP_PASSWORD, TICKET (calling now), UNANSWERED (nobody accepted).

import { run, need, check, login } from './lib.mjs';

run(async ({ page, url, shot }) => {
  const ticket = need('TICKET');
  const unanswered = need('UNANSWERED');
  await login(page, url, need('DISP'), need('DISP_PASSWORD'));
  await page.goto(`${url}/console/#/tickets`);
  await page.waitForSelector('#duty-alarm');
  const alarm = await page.locator('#duty-alarm').innerText();
  check(alarm.includes(`№ ${unanswered}`), 'the unanswered ticket in the alarm', alarm);
  check(!alarm.includes(`№ ${ticket}`), 'not the one still calling', alarm);
  await shot('alarm');

  await page.goto(`${url}/console/#/tickets/${ticket}`);
  await page.waitForSelector('#escalation');
  const calling = await page.locator('#escalation-state').innerText();
  check(calling.includes('звоним: Иванов'), 'who is being called', calling);
  const rows = await page.locator('#escalation-attempts tbody tr').count();
  check(rows === 1, 'one attempt so far', rows);
  await shot('calling');
  await page.click('#duty-accept');
  await page.waitForFunction(() => {
    const s = document.querySelector('#escalation-state');
    return s && s.textContent.includes('принял');
  });
  const accepted = await page.locator('#escalation-state').innerText();
  check(!(await page.locator('#duty-accept').count()), 'no accept button once accepted');
  const details = await page.locator('.kv').innerText();
  await shot('accepted');

  await page.goto(`${url}/console/#/tickets/${unanswered}`);
  await page.waitForSelector('#escalation.alarm');
  const nobody = await page.locator('#escalation').innerText();
  check(nobody.includes('НИКТО НЕ ПРИНЯЛ'), 'the unanswered card is loud', nobody);
  check(nobody.includes('не удалось позвонить'), 'the failed attempt', nobody);
  await shot('unanswered');
  return { alarm, calling, accepted, details, nobody };
});

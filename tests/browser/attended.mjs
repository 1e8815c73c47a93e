// Attended transfer from the console (tests/e2e_transfer.rs): the operator answers the queued
// call, opens «Перевести», types the colleague's extension ZVONAR_TARGET and clicks
// «Консультация»: the caller goes on hold and the colleague is called on a second session.
// Once they talk (the colleague's phone echoes, so the operator hears audio), «Соединить»
// sends REFER with Replaces; zvonar joins the caller and the colleague and ends both of the
// operator's calls. Prints `READY` when taking calls, then `RESULT <json>`: the transfer
// statuses the panel showed, the consultation's inbound audio, and when «Соединить» was
// clicked (ms since the epoch).
//
// With ZVONAR_CONSULT=early «Соединить» is clicked as soon as it can be, while the colleague
// still rings. With ZVONAR_CONSULT=busy the colleague's phone answers 486: the page must take the caller
// off hold, hear the caller again, and then the operator hangs up (`RESULT` has the inbound
// packets of the 2 s after the un-hold).
//
// With ZVONAR_TICKET the operator does not take a queued call but calls the resident of that
// ticket back («Позвонить»), and consults about that call the same way.
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD, ZVONAR_TARGET,
// ZVONAR_CONSULT (optional), ZVONAR_TICKET (optional).

import { run, need, check, login, takeCalls } from './lib.mjs';

await run(async (t) => {
  const { page, url, shot } = t;
  const ticket = process.env.ZVONAR_TICKET;
  if (ticket) {
    await login(page, url, need('ZVONAR_LOGIN'), need('ZVONAR_PASSWORD'));
    await page.goto(`${url}/console/#/tickets/${ticket}`);
    await page.waitForSelector('#ticket-dial');
    await page.click('#ticket-dial');
  } else {
    await takeCalls(page, url);
    await page.waitForSelector('#phone-call[data-state="ringing"] #phone-answer', { timeout: 60_000 });
    await page.click('#phone-answer');
  }
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-transfer', { timeout: 30_000 });
  await page.click('#phone-transfer');
  // The picker's list has arrived (the panel is drawn anew then).
  await page.waitForSelector('#phone-transfer[data-loaded="yes"] #phone-transfer-number');
  await page.fill('#phone-transfer-number', need('ZVONAR_TARGET'));
  await page.click('#phone-consult');
  if (process.env.ZVONAR_CONSULT === 'busy') {
    // The colleague is busy: the consultation fails, the caller comes off hold and the
    // conversation goes on (the caller's audio reaches the page again); then hang up.
    await page.waitForFunction(() => {
      const p = window.zvonarPhone.phone;
      // zvonar answers the operator's call only when the colleague answers, so a refused
      // consultation fails with the colleague's 486.
      const log = window.zvonarPhone.consultLog;
      return (log.includes('ended') || log.includes('failed')) && p.consultation === null && !p.held;
    }, null, { timeout: 30_000 });
    const consultLog = await page.evaluate(() => window.zvonarPhone.consultLog);
    const status = await page.textContent('#phone-transfer');
    const a = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    await page.waitForTimeout(2000);
    const b = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    await shot('consultation_busy');
    await page.click('#phone-hangup');
    await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 20_000 });
    const seen = await page.evaluate(() => window.zvonarPhone.transferLog);
    return { seen, status, consultLog, packetsAfterUnhold: b.packetsReceived - a.packetsReceived };
  }
  // ZVONAR_CONSULT=early: join while the colleague still rings. The panel then says «вызов…»
  // (zvonar answers the consultation only when the colleague answers) and «Соединить» is
  // already enabled (zvonar's 183 is in).
  const early = process.env.ZVONAR_CONSULT === 'early';
  await page.waitForSelector(`#phone-transfer[data-consult="${early ? 'ringing' : 'talking'}"] #phone-consult-join:not([disabled])`, { timeout: 30_000 });
  // Still so a second later (the colleague rings 6 s).
  if (early) await page.waitForTimeout(1000);
  const consultStatus = await page.textContent('#phone-consult-status');
  const held = await page.evaluate(() => window.zvonarPhone.phone.held);
  check(held, 'the caller is on hold while the operator consults');
  // Let the colleague's echo of the operator's microphone come back for a while (unless
  // the operator joins at once, while the colleague still rings).
  if (!early) await page.waitForTimeout(3000);
  const consultAudio = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio(true));
  await shot('consultation');
  const joinedAt = Date.now();
  await page.click('#phone-consult-join');
  // zvonar ends the consultation at once and the caller's call after the NOTIFY 200.
  await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 40_000 });
  const seen = await page.evaluate(() => window.zvonarPhone.transferLog);
  const after = await page.textContent('#phone-status');
  const consultLog = await page.evaluate(() => window.zvonarPhone.consultLog);
  return { seen, after, consultAudio, joinedAt, consultStatus, consultLog };
});

// Transfer of a call the operator placed (tests/e2e_transfer.rs): the operator logs in,
// calls the resident from the ticket ZVONAR_TICKET («Позвонить»), and once the resident
// answers clicks «Перевести», types the colleague's extension ZVONAR_TARGET and sends the
// REFER. zvonar rings the colleague for the resident and ends the operator's call once the
// colleague answered. Prints `RESULT <json>` with the transfer statuses the panel showed and
// the picker's choices (a queue is not offered for such a call).
//
// With ZVONAR_EXPECT=failed the colleague does not take the call: the panel must say so, the
// call go on with the resident (their audio reaches the page again: `RESULT`'s
// `energyAfter`, the inbound audio energy of the 2 s after it), and then the operator
// hangs up.
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD, ZVONAR_TICKET,
// ZVONAR_TARGET, ZVONAR_EXPECT (optional).

import { run, need, check, login } from './lib.mjs';

await run(async (t) => {
  const { page, url, shot } = t;
  page.on('console', (m) => console.error(`page ${m.type()}: ${m.text()}`));
  await login(page, url, need('ZVONAR_LOGIN'), need('ZVONAR_PASSWORD'));
  await page.goto(`${url}/console/#/tickets/${need('ZVONAR_TICKET')}`);
  await page.waitForSelector('#ticket-dial');
  await page.click('#ticket-dial');
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-transfer', { timeout: 40_000 });
  const talkingAt = Date.now();
  await page.click('#phone-transfer');
  await page.waitForSelector('#phone-transfer[data-loaded="yes"] #phone-transfer-number');
  const choices = await page.$$eval('#phone-transfer-target option', (os) => os.map((o) => o.textContent));
  await page.fill('#phone-transfer-number', need('ZVONAR_TARGET'));
  await shot('own_call_transfer_picker');
  // Two seconds of conversation first, so that the recording has the operator in it.
  await page.waitForTimeout(Math.max(0, 2000 - (Date.now() - talkingAt)));
  const clickedAt = Date.now();
  await page.click('#phone-transfer-go');
  if (process.env.ZVONAR_EXPECT === 'failed') {
    await page.waitForFunction(() => window.zvonarPhone.transferLog.includes('failed'), null, { timeout: 40_000 });
    const transferMs = Date.now() - clickedAt;
    check(await page.isVisible('#phone-call[data-state="talking"]'), 'the call goes on after the failed transfer');
    const status = await page.textContent('#phone-transfer-status');
    // The resident is bridged to the operator again (no ringback any more: speech).
    await page.waitForTimeout(500);
    const a = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    await page.waitForTimeout(2000);
    const b = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    await shot('own_call_transfer_failed');
    await page.click('#phone-hangup');
    await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 20_000 });
    const seen = await page.evaluate(() => window.zvonarPhone.transferLog);
    return {
      seen, choices, transferMs, status,
      energyAfter: b.totalAudioEnergy - a.totalAudioEnergy,
      packetsAfter: b.packetsReceived - a.packetsReceived,
    };
  }
  // The colleague answers: «переведено», then zvonar hangs up the operator's call.
  await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 40_000 });
  const seen = await page.evaluate(() => window.zvonarPhone.transferLog);
  return { seen, choices, transferMs: Date.now() - clickedAt };
});

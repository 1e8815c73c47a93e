// Blind transfer from the console (tests/e2e_transfer.rs): the operator takes calls, answers
// the queued call, clicks «Перевести», types the colleague's extension ZVONAR_TARGET and
// sends the REFER (JsSIP session.refer); zvonar reports the new call's progress in NOTIFYs
// and ends the operator's call once the colleague answered. Prints `READY` when taking
// calls, then `RESULT <json>` with the transfer statuses the panel showed.
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD, ZVONAR_TARGET.

import { run, need, takeCalls } from './lib.mjs';

await run(async (t) => {
  const { page, url, shot } = t;
  await takeCalls(page, url);
  await page.waitForSelector('#phone-call[data-state="ringing"] #phone-answer', { timeout: 60_000 });
  await page.click('#phone-answer');
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-transfer', { timeout: 15_000 });
  await page.click('#phone-transfer');
  // The picker's list has arrived (the panel is drawn anew then).
  await page.waitForSelector('#phone-transfer[data-loaded="yes"] #phone-transfer-number');
  await page.fill('#phone-transfer-number', need('ZVONAR_TARGET'));
  await shot('transfer_picker');
  await page.click('#phone-transfer-go');
  // The colleague answers: «переведено», then zvonar hangs up the operator's call.
  await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 40_000 });
  const after = await page.textContent('#phone-status');
  const seen = await page.evaluate(() => window.zvonarPhone.transferLog);
  return { seen, after };
});

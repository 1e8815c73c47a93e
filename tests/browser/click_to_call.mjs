// Click-to-call (tests/e2e_transfer.rs): the operator logs in and clicks «Позвонить», either
// next to the resident's number in the ticket ZVONAR_TICKET, or in the callback form of the
// missed call from ZVONAR_MISSED (a number) in «Пропущенные звонки». The console's softphone
// registers (if it was not) and calls through zvonar, which dials the number through the
// trunk. Once the call is up and the resident's audio arrives, the operator hangs up; for a
// missed call the operator then records «Дозвонились» and the entry leaves the open list.
// Before hanging up, the operator holds the resident and resumes: the call must go on.
// Prints `RESULT <json>` with the page's inbound audio stats (and `closed` for a missed call).
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD, and ZVONAR_TICKET or
// ZVONAR_MISSED.

import { run, need, check, login } from './lib.mjs';

async function until(what, fn, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

await run(async (t) => {
  const { page, url, shot } = t;
  page.on('console', (m) => console.error(`page ${m.type()}: ${m.text()}`));
  await login(page, url, need('ZVONAR_LOGIN'), need('ZVONAR_PASSWORD'));
  const missed = process.env.ZVONAR_MISSED;
  let row = null;
  if (missed) {
    await page.goto(`${url}/console/#/missed`);
    row = page.locator(`table#missed tr[data-number="${missed}"]`);
    await row.waitFor();
    await row.locator('button.callback').click();
    await page.click('tr.attempt-form #missed-dial');
  } else {
    await page.goto(`${url}/console/#/tickets/${need('ZVONAR_TICKET')}`);
    await page.waitForSelector('#ticket-dial');
    await page.click('#ticket-dial');
  }
  // «Вызов» with «Отменить» while the resident's phone rings (1 s): zvonar answers the
  // operator's call only when the resident answers.
  await page.waitForSelector('#phone-call[data-state="dialling"] #phone-hangup', { timeout: 30_000 });
  const diallingAt = Date.now();
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-hangup', { timeout: 30_000 });
  const ringingMs = Date.now() - diallingAt;
  // A call the operator placed can be transferred too (e2e_transfer's own-call test does).
  check(await page.isVisible('#phone-transfer'), '«Перевести» on a call the operator placed');
  let maxLevel = 0;
  const inbound = await until('inbound audio', async () => {
    const s = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    if (s) maxLevel = Math.max(maxLevel, s.audioLevel);
    return s && s.packetsReceived >= 300 ? s : null;
  }, 40_000);
  const outbound = await page.evaluate(() => window.zvonarPhone.phone.outboundAudio());
  await shot('click_to_call');
  // Hold and resume: JsSIP's re-INVITEs (sendonly, then sendrecv), which zvonar answers on
  // the same peer connection. (A refused hold makes JsSIP hang up the call.)
  await page.click('#phone-hold');
  await page.waitForSelector('#phone-hold:text("Снять с удержания")', { timeout: 15_000 });
  await page.waitForTimeout(1500);
  await page.click('#phone-hold');
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-hold:text("Удержание")', { timeout: 15_000 });
  const resumedAt = (await page.evaluate(() => window.zvonarPhone.phone.inboundAudio())).packetsReceived;
  const afterResume = await until('audio after resume', async () => {
    const s = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    return s && s.packetsReceived >= resumedAt + 100 ? s.packetsReceived - resumedAt : null;
  }, 15_000);
  check(await page.isVisible('#phone-call[data-state="talking"]'), 'the call goes on after hold and resume');
  await page.click('#phone-hangup');
  await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 15_000 });
  let closed = null;
  if (missed) {
    // The form stays open under the call and notes that the call took place; its outcome
    // buttons record the attempt, and a reached resident closes the entry.
    await page.waitForSelector('tr.attempt-form[data-called="talked"]', { timeout: 15_000 });
    await page.click('tr.attempt-form button[data-outcome=reached]');
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    await shot('missed_called_back');
    closed = (await row.count()) === 0;
  }
  return { inbound, outbound, maxLevel, closed, ringingMs, afterResume };
});

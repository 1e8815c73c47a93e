// Click-to-call from a ticket (tests/e2e_transfer.rs): the operator logs in, opens the ticket
// ZVONAR_TICKET, clicks «Позвонить» next to the resident's number; the console's softphone
// registers (if it was not) and calls through zvonar, which dials the number through the
// trunk. Once the call is up and the resident's audio arrives, the operator hangs up.
// Prints `RESULT <json>` with the page's inbound audio stats.
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD, ZVONAR_TICKET.

import { run, need, login } from './lib.mjs';

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
  await page.goto(`${url}/console/#/tickets/${need('ZVONAR_TICKET')}`);
  await page.waitForSelector('#ticket-dial');
  await page.click('#ticket-dial');
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-hangup', { timeout: 30_000 });
  let maxLevel = 0;
  const inbound = await until('inbound audio', async () => {
    const s = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    if (s) maxLevel = Math.max(maxLevel, s.audioLevel);
    return s && s.packetsReceived >= 300 ? s : null;
  }, 40_000);
  const outbound = await page.evaluate(() => window.zvonarPhone.phone.outboundAudio());
  await shot('click_to_call');
  await page.click('#phone-hangup');
  await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 15_000 });
  return { inbound, outbound, maxLevel };
});

// An operator's own call counts in the queue (tests/e2e_ownc.rs): the operator starts taking
// calls, then calls the extension ZVONAR_TARGET from the console's softphone (the call the
// ticket and missed-call «Позвонить» buttons place); once it is up the panel's state must read
// «разговор» (on_call), and the script prints `TALKING`. The test then puts a caller into the
// queue and creates the file ZVONAR_HANGUP_FILE; the operator hangs up, the state reads
// «поствызывная обработка» (wrap_up), and after it the queued call rings the console: the
// operator answers, then hangs up.
// Prints `RESULT <json>` with the states seen and when the call rang (ms since the epoch).
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD, ZVONAR_TARGET,
// ZVONAR_HANGUP_FILE.

import { run, need, check, takeCalls } from './lib.mjs';
import fs from 'node:fs';

await run(async (t) => {
  const { page, url, shot } = t;
  await takeCalls(page, url);
  const placed = await page.evaluate((n) => window.zvonarPhone.call(n), need('ZVONAR_TARGET'));
  check(placed, 'the call was not placed');
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-hangup', { timeout: 30_000 });
  // The panel refreshes the agent's state every 5 s.
  await page.waitForSelector('#phone-status[data-state="on_call"]', { timeout: 12_000 });
  const onCall = await page.textContent('#phone-status');
  await shot('own_call_on_call');
  console.log('TALKING');
  const file = need('ZVONAR_HANGUP_FILE');
  const until = Date.now() + 60_000;
  while (!fs.existsSync(file)) {
    check(Date.now() < until, 'the test never asked to hang up');
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.click('#phone-hangup');
  await page.waitForSelector('#phone-status[data-state="wrap_up"]', { timeout: 12_000 });
  const wrapUp = await page.textContent('#phone-status');
  await page.waitForSelector('#phone-call[data-state="ringing"] #phone-answer', { timeout: 60_000 });
  const rangAt = Date.now();
  await page.click('#phone-answer');
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-hangup', { timeout: 15_000 });
  await page.click('#phone-hangup');
  await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 15_000 });
  return { onCall, wrapUp, rangAt };
});

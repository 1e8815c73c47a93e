// An agent whose browser disappears (tests/e2e_transfer.rs): the operator logs in, starts
// taking calls (the page registers over SIP/WebSocket and logs in to the queue), prints
// `READY`; when a queued call rings in the panel it prints `RINGING` and waits. The Rust
// test then kills the browser (SIGKILL: no page script runs, no un-REGISTER, no 486 — only
// the WebSocket's TCP connection closes, as when a laptop's browser crashes) and checks that
// the call rings the next agent at once.
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD.

import { run, need, login } from './lib.mjs';

await run(async (t) => {
  const { page, url, shot } = t;
  page.on('console', (m) => console.error(`page ${m.type()}: ${m.text()}`));
  await login(page, url, need('ZVONAR_LOGIN'), need('ZVONAR_PASSWORD'));
  await page.waitForSelector('#phone-toggle');
  await page.click('#phone-toggle');
  await page.waitForSelector('#phone-status[data-state="available"][data-registered="yes"]', { timeout: 20_000 });
  console.log('READY');
  await page.waitForSelector('#phone-call[data-state="ringing"] #phone-answer', { timeout: 60_000 });
  await shot('ringing_then_closed');
  console.log('RINGING');
  await new Promise(() => {}); // killed here

});

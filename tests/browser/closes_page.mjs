// An agent whose browser disappears (tests/e2e_transfer.rs): the operator logs in, starts
// taking calls (the page registers over SIP/WebSocket and logs in to the queue), prints
// `READY`; when a queued call rings in the panel it prints `RINGING` and waits. The Rust
// test then kills the browser (SIGKILL: no page script runs, no un-REGISTER, no 486 — only
// the WebSocket's TCP connection closes, as when a laptop's browser crashes) and checks that
// the call rings the next agent at once.
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD.

import { run, takeCalls } from './lib.mjs';

await run(async (t) => {
  const { page, url, shot } = t;
  await takeCalls(page, url);
  await page.waitForSelector('#phone-call[data-state="ringing"] #phone-answer', { timeout: 60_000 });
  await shot('ringing_then_closed');
  console.log('RINGING');
  await new Promise(() => {}); // killed here

});

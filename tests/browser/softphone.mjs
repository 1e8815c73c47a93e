// The softphone in the console (tests/e2e_webrtc.rs): the operator logs in, starts taking
// calls (the page registers over SIP/WebSocket with a per-session credential and logs in to
// the queue), a queued call rings with the caller's card, the operator answers, audio flows
// both ways (WebRTC stats), the operator hangs up. Prints `READY` once the agent is
// available (the Rust test then starts the caller), and `RESULT <json>` at the end.
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD.

import { run, need, check, login } from './lib.mjs';

/** Polls `fn` (async, returns a value or null) every 100 ms until it returns non-null. */
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
  const logs = [];
  page.on('console', (m) => {
    if (logs.length < 300) logs.push(`${m.type()}: ${m.text()}`);
    console.error(`page ${m.type()}: ${m.text()}`);
  });
  page.on('requestfailed', (r) => console.error(`page request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) console.error(`page response ${r.status()}: ${r.url()}`); });
  await login(page, url, need('ZVONAR_LOGIN'), need('ZVONAR_PASSWORD'));
  await page.waitForSelector('#phone-toggle');
  // No credential in the page before the user asks for it.
  const html = await page.content();
  check(!/password["']?\s*:/.test(html), 'no SIP password in the page source');
  // JsSIP's own debug output (the `debug` package) in the browser console: kept in stderr.
  await page.evaluate(() => localStorage.setItem('debug', 'JsSIP:DigestAuthentication,JsSIP:RequestSender,JsSIP:Registrator,JsSIP:RTCSession'));
  await page.click('#phone-toggle');
  await page.waitForSelector('#phone-status[data-state="available"][data-registered="yes"]', { timeout: 20_000 });
  // A page refresh: the page registers again by itself (same device id) and the agent is
  // still taking calls; the sound of the ring waits for a click (autoplay policy).
  await page.reload();
  await page.waitForSelector('#phone-status[data-state="available"][data-registered="yes"]', { timeout: 30_000 });
  const mutedAfterReload = await page.isVisible('#phone-sound');
  await page.click('header .brand');
  await page.waitForSelector('#phone-sound', { state: 'hidden' });
  const ringAudible = !(await page.isVisible('#phone-sound'));
  console.log('READY');

  // The queue offers the call: the panel rings with the caller's card.
  await page.waitForSelector('#phone-call[data-state="ringing"] #phone-answer', { timeout: 60_000 });
  await page.waitForSelector('#phone-card .caller-card', { timeout: 15_000 });
  const card = await page.textContent('#phone-card');
  await shot('ringing');
  await page.click('#phone-answer');
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-hangup', { timeout: 15_000 });

  // Audio from the caller: inbound RTP with a level above silence.
  let maxLevel = 0;
  const inbound = await until('inbound audio', async () => {
    const s = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    if (s) maxLevel = Math.max(maxLevel, s.audioLevel);
    return s && s.packetsReceived >= 150 && maxLevel > 0.01 ? s : null;
  }, 30_000);
  // Our audio to the caller: 5 s of it sent (250 packets of 20 ms).
  const outbound = await until('outbound audio', async () => {
    const s = await page.evaluate(() => window.zvonarPhone.phone.outboundAudio());
    return s && s.packetsSent >= 250 ? s : null;
  }, 30_000);
  // Keys to the caller and the microphone switch work on the live call.
  await page.click('#phone-keys button[data-key="5"]');
  await page.click('#phone-mute');
  await page.waitForSelector('#phone-mute:text("Включить микрофон")');
  await page.click('#phone-mute');
  await page.waitForSelector('#phone-mute:text("Выключить микрофон")');
  // Hold and resume: re-INVITEs the server answers on the same peer connection.
  await page.click('#phone-hold');
  await page.waitForSelector('#phone-hold:text("Снять с удержания")');
  await page.click('#phone-hold');
  await page.waitForSelector('#phone-hold:text("Удержание")');
  await shot('in_call');
  const finalInbound = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
  await page.click('#phone-hangup');
  await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 15_000 });
  await page.waitForFunction(() => {
    const s = document.querySelector('#phone-status');
    return s && s.dataset.state !== 'on_call' && s.dataset.state !== 'ringing';
  }, null, { timeout: 15_000 });
  const after = await page.textContent('#phone-status');
  return { card, inbound, finalInbound, maxLevel, outbound, ringAudible, mutedAfterReload, after, logs: logs.slice(-40) };
});

// The console's softphone in Firefox (tests/e2e_firefox.rs): Debian's firefox-esr driven by
// puppeteer-core over WebDriver BiDi (playwright-core's BiDi driver wants a newer Firefox
// than the ESR). The operator logs in, starts taking calls, answers a queued call with the
// caller's card, keys a digit, holds and resumes, and hangs up; audio both ways is read from
// the page's WebRTC stats. Prints `READY` once the agent is available (the Rust test then
// starts the caller), and `RESULT <json>` at the end.
//
// Environment: ZVONAR_URL, ZVONAR_ARTIFACTS, ZVONAR_LOGIN, ZVONAR_PASSWORD; FIREFOX (default
// /usr/bin/firefox-esr).

import puppeteer from 'puppeteer-core';
import fs from 'node:fs';
import path from 'node:path';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

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

const url = need('ZVONAR_URL');
const dir = process.env.ZVONAR_ARTIFACTS || path.resolve('target/browser-artifacts/manual');
fs.mkdirSync(dir, { recursive: true });
const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
  headless: true,
  timeout: 60_000,
  extraPrefsFirefox: {
    // A fake microphone (a tone) without the permission prompt.
    'media.navigator.streams.fake': true,
    'media.navigator.permission.disabled': true,
    // The test's console is plain http on a namespace address: treat that origin as secure,
    // as a production https page is (the microphone; the session cookie, which zvonar marks
    // `Secure` off loopback), like Chromium's --unsafely-treat-insecure-origin-as-secure.
    'dom.securecontext.allowlist': new URL(url).hostname,
    // Sound without a click, as after the operator's first click in production.
    'media.autoplay.default': 0,
  },
});
const page = await browser.newPage();
await page.setViewport({ width: 1366, height: 768 });
page.setDefaultTimeout(20_000);
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => console.error(`page ${m.type()}: ${m.text()}`));
// Clicks go through locators: they wait for the element and retry when the page draws it
// anew (the header and the phone panel are re-rendered on every state change).
const shot = (name) => page.screenshot({ path: path.join(dir, `${name}.png`) });
const text = (sel) => page.$eval(sel, (e) => e.textContent);
let code = 0;
try {
  await page.goto(`${url}/console/`);
  await page.waitForSelector('#login');
  await page.type('#login', need('ZVONAR_LOGIN'));
  await page.type('#password', need('ZVONAR_PASSWORD'));
  await page.locator('button[type=submit]').click();
  await page.waitForSelector('#phone-toggle');
  await page.locator('#phone-toggle').click();
  await page.waitForSelector('#phone-status[data-state="available"][data-registered="yes"]', { timeout: 20_000 });
  const userAgent = await page.evaluate(() => navigator.userAgent);
  console.log('READY');

  await page.waitForSelector('#phone-call[data-state="ringing"] #phone-answer', { timeout: 60_000 });
  await page.waitForSelector('#phone-card .caller-card', { timeout: 15_000 });
  const card = await text('#phone-card');
  await shot('ringing');
  await page.locator('#phone-answer').click();
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-hangup', { timeout: 15_000 });
  const inbound = await until('inbound audio', async () => {
    const s = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    return s && s.packetsReceived >= 150 ? s : null;
  }, 30_000);
  const outbound = await until('outbound audio', async () => {
    const s = await page.evaluate(() => window.zvonarPhone.phone.outboundAudio());
    return s && s.packetsSent >= 250 ? s : null;
  }, 30_000);
  await page.locator('#phone-keys button[data-key="5"]').click();
  await page.locator('#phone-hold').click();
  await until('hold', async () => (await text('#phone-hold')).includes('Снять'), 15_000);
  await page.locator('#phone-hold').click();
  await until('resume', async () => (await text('#phone-hold')) === 'Удержание', 15_000);
  // Audio comes again after the resume.
  const resumed = inbound.packetsReceived;
  const afterResume = await until('audio after resume', async () => {
    const s = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
    return s && s.packetsReceived >= resumed + 100 ? s : null;
  }, 15_000);
  await shot('in_call');
  await page.locator('#phone-hangup').click();
  await until('the panel closed', async () => page.$eval('#phone-call', (e) => e.hidden), 15_000);
  if (errors.length) throw new Error(`uncaught errors in the page: ${JSON.stringify(errors)}`);
  console.log('RESULT ' + JSON.stringify({ userAgent, card, inbound, outbound, afterResume }));
} catch (e) {
  code = 1;
  console.error(e && e.stack ? e.stack : String(e));
  try { await shot('failure'); } catch (_) { /* page gone */ }
} finally {
  await browser.close();
}
process.exit(code);

// Shared harness of the headless-browser tests: Debian's chromium driven by playwright-core
// (npm, pinned in the root package.json; no browser download). A script is started by a Rust
// test (tests/common/browser.rs), which passes everything through the environment:
//
//   ZVONAR_URL        the console's origin, e.g. http://127.0.0.1:8123
//   ZVONAR_ARTIFACTS  where screenshots go (target/browser-artifacts/<test>/)
//   CHROMIUM          the browser binary (default /usr/bin/chromium)
//   CHROMIUM_ARGS     extra switches, space-separated (e.g. fake media devices)
//   plus whatever the script itself reads (logins, passwords).
//
// The script ends by printing one line `RESULT <json>` and exits 0; any failure prints the
// error (with a screenshot `failure.png`) and exits 1. Use: `run(async (t) => { … return {…} })`.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

/** An environment variable the script needs; throws naming it when unset. */
export function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

/** Throws `msg` (with the values) unless `cond`. */
export function check(cond, msg, ...values) {
  if (!cond) throw new Error(`${msg}${values.length ? ': ' + JSON.stringify(values) : ''}`);
}

/**
 * Launches the browser and runs `body(t)` with `t = {browser, context, page, url, shot, newPage}`;
 * prints `RESULT` with what `body` returned. Screenshots: `await t.shot('login')` →
 * `$ZVONAR_ARTIFACTS/login.png`.
 */
export async function run(body, opts = {}) {
  const url = need('ZVONAR_URL');
  const dir = process.env.ZVONAR_ARTIFACTS || path.resolve('target/browser-artifacts/manual');
  fs.mkdirSync(dir, { recursive: true });
  const extra = (process.env.CHROMIUM_ARGS || '').split(' ').filter(Boolean);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', ...extra],
    timeout: 60_000,
  });
  const newContext = () => browser.newContext({
    viewport: { width: 1366, height: 768 },
    locale: 'ru-RU',
    timezoneId: process.env.TZ_NAME || 'Europe/Moscow',
    acceptDownloads: true,
    ...(opts.context || {}),
  });
  const context = await newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const shot = async (name, p = page) => {
    const file = path.join(dir, `${name}.png`);
    await p.screenshot({ path: file, fullPage: false });
    return file;
  };
  const t = { browser, context, page, url, dir, shot, newContext, consoleErrors };
  let code = 0;
  try {
    const result = await body(t);
    check(consoleErrors.length === 0, 'uncaught errors in the page', ...consoleErrors);
    console.log('RESULT ' + JSON.stringify(result ?? {}));
  } catch (e) {
    code = 1;
    console.error(e && e.stack ? e.stack : String(e));
    try { await shot('failure'); } catch (e2) { /* page gone */ }
  } finally {
    await browser.close();
  }
  process.exit(code);
}

/** Logs in through the console's form; waits for the menu (or the password change form). */
export async function login(page, url, loginName, password) {
  await page.goto(`${url}/console/`);
  await page.fill('#login', loginName);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('nav.menu, #new, .form-error .error');
}

/**
 * The operator's start of a softphone test: echoes the page's console to stderr, logs in as
 * ZVONAR_LOGIN / ZVONAR_PASSWORD, clicks «Начать приём звонков», waits until the agent is
 * available with the softphone registered, and prints `READY` (the Rust test then starts
 * its caller).
 */
export async function takeCalls(page, url) {
  page.on('console', (m) => console.error(`page ${m.type()}: ${m.text()}`));
  await login(page, url, need('ZVONAR_LOGIN'), need('ZVONAR_PASSWORD'));
  await page.waitForSelector('#phone-toggle');
  await page.click('#phone-toggle');
  await page.waitForSelector('#phone-status[data-state="available"][data-registered="yes"]', { timeout: 20_000 });
  console.log('READY');
}

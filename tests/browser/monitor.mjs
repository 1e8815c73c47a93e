// The supervisor's live monitor: a supervisor opens «Монитор» once; the agent (another
// browser, through the API with their own session) logs in, pauses for lunch; a SIPp caller
// (started here, once the queue is staffed) asks the robot for an operator and waits in the
// queue; the monitor socket is cut and the page reconnects by itself; the agent logs out and
// the waiting call goes to the robot. Every change must show without reloading the page.
//
// Env: ZVONAR_URL, SUPERVISOR/SUPERVISOR_PASSWORD, AGENT/AGENT_PASSWORD (an operator whose SIP
// phone is registered), SIPP_ARGS (JSON array: sipp's arguments for the caller), SIPP_DIR.

import { run, need, check, login } from './lib.mjs';
import { spawn } from 'node:child_process';

run(async ({ page, url, shot, newContext }) => {
  const agent = need('AGENT');
  // Every monitor socket goes through a route the test can cut (a dropped connection).
  const sockets = [];
  await page.routeWebSocket(/\/api\/v1\/monitor\/ws$/, (ws) => {
    ws.connectToServer();
    sockets.push(ws);
  });
  await login(page, url, need('SUPERVISOR'), need('SUPERVISOR_PASSWORD'));
  const menu = await page.locator('nav.menu a').allInnerTexts();
  check(menu.includes('Монитор'), 'the supervisor has the monitor in the menu', menu);
  await page.click('nav.menu a[data-page=monitor]');
  await page.locator('#monitor-status.conn-live').waitFor();
  await page.locator('#monitor-kpi tr[data-queue=operators]').waitFor();
  // Set once: a reload would lose it.
  await page.evaluate(() => { window.monitorOpenedOnce = true; });

  // The agent, from their own browser session.
  const other = await newContext();
  const resp = await other.request.post(`${url}/api/v1/login`, {
    data: { login: agent, password: need('AGENT_PASSWORD') },
  });
  check(resp.ok(), 'agent login', resp.status());
  const csrf = (await resp.json()).csrf_token;
  const act = async (what, data) => {
    const r = await other.request.post(`${url}/api/v1/queue/agent/${what}`, {
      headers: { 'X-CSRF-Token': csrf }, data,
    });
    check(r.ok(), `agent ${what}`, r.status(), await r.text());
  };
  const row = page.locator(`#monitor-agents tr[data-login="${agent}"]`);

  await act('login');
  await row.locator('.ag-available').waitFor();
  const available = await row.innerText();
  await act('pause', { reason: 'обед' });
  await row.locator('.ag-paused').waitFor();
  await row.locator('.reason', { hasText: 'обед' }).waitFor();
  const paused = await row.innerText();
  // The time in state runs in the page between snapshots.
  const t0 = await row.locator('td.in-state').innerText();
  await page.waitForFunction(
    ([sel, before]) => document.querySelector(sel)?.textContent !== before,
    [`#monitor-agents tr[data-login="${agent}"] td.in-state`, t0],
  );

  // A caller who waits in the queue while the only agent is paused.
  const sipp = spawn('sipp', JSON.parse(need('SIPP_ARGS')), { cwd: need('SIPP_DIR'), stdio: 'ignore' });
  let waiting;
  try {
    const call = page.locator('#monitor-calls tr.waiting-call');
    await call.first().waitFor({ timeout: 90_000 });
    await page.locator('#monitor-kpi tr[data-queue=operators] td.waiting', { hasText: '1' }).waitFor();
    waiting = await call.first().innerText();
    check((await call.first().locator('td.position').innerText()) === '1', 'position 1', waiting);
    await shot('monitor');

    // The connection drops: the page says so and reconnects by itself.
    check(sockets.length === 1, 'one socket so far', sockets.length);
    await sockets[0].close({ code: 4000, reason: 'test: connection dropped' });
    await page.locator('#monitor-status.conn-down').waitFor();
    await page.locator('#monitor-status.conn-live').waitFor({ timeout: 30_000 });
    await shot('monitor-reconnected');

    // After the reconnect, changes still arrive: the agent logs out, the caller goes to
    // the robot (nobody left in the queue).
    await act('logout');
    await row.locator('.ag-logged_out').waitFor();
    await page.locator('#monitor-no-calls').waitFor();
    await page.locator('#monitor-kpi tr[data-queue=operators] td.overflowed', { hasText: '1' }).waitFor();
  } finally {
    if (sipp.exitCode === null) sipp.kill('SIGTERM');
  }
  const loggedOut = await row.innerText();
  const overflowed = await page.locator('#monitor-kpi tr[data-queue=operators] td.overflowed').innerText();
  const reloaded = !(await page.evaluate(() => window.monitorOpenedOnce === true));
  await shot('monitor-after');
  return {
    menu, available, paused, waiting, logged_out: loggedOut, overflowed,
    sockets: sockets.length, reloaded,
  };
});

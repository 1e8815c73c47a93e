// A browser calls zvonar's robot: registers over SIP/WebSocket with JsSIP, calls, waits for
// audio, holds the call, hangs up; prints one JSON line with what the page measured.
// Driven by tests/e2e_webrtc.rs; settings come as one JSON argument:
//   { consoleDir, wav, wsUrl, domain, user, password, target, holdMs, timeoutMs }
import { launch, serveDir, sleep } from "./harness.mjs";

const cfg = JSON.parse(process.argv[2]);
const origin = "http://127.0.0.1:9";
const out = { ok: false, logs: [] };
const browser = await launch({ wav: cfg.wav });
try {
  const context = await browser.newContext();
  try { await context.grantPermissions(["local-network-access"]); } catch (_) { /* older Playwright */ }
  await serveDir(context, origin, cfg.consoleDir);
  const page = await context.newPage();
  page.on("console", (m) => { if (out.logs.length < 200) out.logs.push(`${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => out.logs.push(`pageerror: ${e.message}`));
  await page.goto(`${origin}/test/webrtc.html`);
  const result = await page.evaluate(async (cfg) => {
    const r = {};
    const phone = new ZvonarPhone({
      wsUrl: cfg.wsUrl,
      uri: `sip:${cfg.user}@${cfg.domain}`,
      password: cfg.password,
    });
    window.phone = phone;
    const t0 = performance.now();
    r.registerStatus = await phone.register();
    r.registerMs = performance.now() - t0;
    await phone.call(cfg.target);
    // Poll the stats every 20 ms until audio comes in (the first packet's time is the end
    // of call setup), then keep the call up for holdMs.
    const deadline = performance.now() + cfg.timeoutMs;
    let inbound = null;
    while (performance.now() < deadline) {
      inbound = await phone.inboundAudio();
      if (inbound && inbound.packetsReceived > 0) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    r.firstInbound = inbound;
    const samples = [];
    const holdUntil = performance.now() + cfg.holdMs;
    let maxLevel = 0;
    while (performance.now() < holdUntil) {
      await new Promise((res) => setTimeout(res, 250));
      const s = await phone.inboundAudio();
      if (s) {
        maxLevel = Math.max(maxLevel, s.audioLevel);
        samples.push(s);
      }
    }
    r.inbound = samples.length ? samples[samples.length - 1] : null;
    r.inboundSamples = samples.length;
    r.maxAudioLevel = maxLevel;
    r.outbound = await phone.outboundAudio();
    r.timing = phone.timing;
    r.setupMs = phone.timing.firstAudio !== undefined ? phone.timing.firstAudio - phone.timing.inviteSent : null;
    r.answerMs = phone.timing.answered - phone.timing.inviteSent;
    phone.hangup();
    await new Promise((res) => setTimeout(res, 500));
    phone.stop();
    return r;
  }, cfg);
  Object.assign(out, result, { ok: true });
} catch (e) {
  out.error = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

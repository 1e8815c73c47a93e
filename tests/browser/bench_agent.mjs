// The browser among the operators of `cargo bench --bench bridge` (benches/bridge.rs): the
// operator logs in to the console, starts taking calls (the softphone registers over SIP/WS,
// the agent becomes available) and prints `READY`; the queue offers a call, the operator
// answers it and stays on it for ZVONAR_TALK_S seconds, reading the call's WebRTC stats every
// second, then hangs up. Prints `RESULT <json>` with what the page measured of the audio
// zvonar sent it (the browser's own getStats(), W3C webrtc-stats):
//
//   inbound            packetsReceived, packetsLost, jitter (s), concealedSamples,
//                      totalSamplesReceived, jitterBufferDelay (s), jitterBufferEmittedCount,
//                      codec, at the hang-up
//   maxConcealedPerS   the most concealed samples (audio the browser made up for packets that
//                      did not come in time) in one 1 s poll
//   localPort          the page's UDP port of the selected ICE pair, and remotePort
//                      zvonar's (the bench finds this stream in its capture by them)
//   answeredAtMs       Date.now() when the call was answered
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD, ZVONAR_TALK_S.

import { run, need, takeCalls } from './lib.mjs';

/** The call's peer connection stats reduced to what the bench reports. */
async function audioStats(page) {
  return page.evaluate(async () => {
    const s = window.zvonarPhone.phone.session;
    const pc = s && s.connection;
    if (!pc) return null;
    const stats = await pc.getStats();
    const out = { localPort: null, remotePort: null };
    let pair = null;
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && (r.kind === 'audio' || r.mediaType === 'audio')) {
        out.inbound = {
          packetsReceived: r.packetsReceived || 0,
          packetsLost: r.packetsLost || 0,
          jitter: r.jitter || 0,
          concealedSamples: r.concealedSamples || 0,
          totalSamplesReceived: r.totalSamplesReceived || 0,
          jitterBufferDelay: r.jitterBufferDelay || 0,
          jitterBufferEmittedCount: r.jitterBufferEmittedCount || 0,
          codec: r.codecId && stats.get(r.codecId) ? stats.get(r.codecId).mimeType : null,
        };
      }
      if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
    });
    if (pair && stats.get(pair.localCandidateId)) out.localPort = stats.get(pair.localCandidateId).port;
    if (pair && stats.get(pair.remoteCandidateId)) out.remotePort = stats.get(pair.remoteCandidateId).port;
    return out;
  });
}

await run(async (t) => {
  const { page, url } = t;
  const talkMs = Number(need('ZVONAR_TALK_S')) * 1000;
  await takeCalls(page, url);
  await page.waitForSelector('#phone-call[data-state="ringing"] #phone-answer', { timeout: 120_000 });
  await page.click('#phone-answer');
  await page.waitForSelector('#phone-call[data-state="talking"] #phone-hangup', { timeout: 15_000 });
  const answeredAtMs = Date.now();
  let last = null;
  let maxConcealedPerS = 0;
  let localPort = null;
  let remotePort = null;
  while (Date.now() - answeredAtMs < talkMs) {
    await page.waitForTimeout(1000);
    const s = await audioStats(page);
    if (!s || !s.inbound) continue;
    if (last) maxConcealedPerS = Math.max(maxConcealedPerS, s.inbound.concealedSamples - last.concealedSamples);
    last = s.inbound;
    localPort = s.localPort || localPort;
    remotePort = s.remotePort || remotePort;
  }
  await page.click('#phone-hangup');
  await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 15_000 });
  return { inbound: last, maxConcealedPerS, localPort, remotePort, answeredAtMs };
});

// Opus from the browser (tests/e2e_transfer.rs): the operator's softphone offers Opus only
// (its SDP offer is cut down to opus and telephone-event here, in the test: current browsers
// always offer G.711 too, which zvonar prefers), and calls the colleague's extension
// ZVONAR_TARGET (click-to-call). zvonar answers Opus and transcodes it to and from the
// colleague's G.711. Prints `READY` when taking calls, then `RESULT <json>` with the codec
// and audio the page received.
//
// Environment (besides lib.mjs's): ZVONAR_LOGIN, ZVONAR_PASSWORD, ZVONAR_TARGET.

import { run, need, check, takeCalls } from './lib.mjs';

await run(async (t) => {
  const { page, url, shot } = t;
  await takeCalls(page, url);
  await page.evaluate(() => {
    // Every offer this page sends: only Opus (and telephone-event) in the audio section.
    window.zvonarPhone.phone.ua.on('newRTCSession', (e) => {
      if (e.originator !== 'local') return;
      e.session.on('sdp', (d) => {
        if (d.originator !== 'local' || d.type !== 'offer') return;
        const lines = d.sdp.split('\r\n');
        const keep = new Set();
        for (const l of lines) {
          const m = /^a=rtpmap:(\d+) (opus|telephone-event)\//i.exec(l);
          if (m) keep.add(m[1]);
        }
        d.sdp = lines.filter((l) => {
          const m = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)/.exec(l);
          return !m || keep.has(m[1]);
        }).map((l) => {
          if (!l.startsWith('m=audio')) return l;
          const f = l.split(' ');
          return [...f.slice(0, 3), ...f.slice(3).filter((pt) => keep.has(pt))].join(' ');
        }).join('\r\n');
      });
    });
  });
  const placed = await page.evaluate((n) => window.zvonarPhone.call(n), need('ZVONAR_TARGET'));
  check(placed, 'the call was placed');
  await page.waitForSelector('#phone-call[data-state="talking"]', { timeout: 30_000 });
  // The colleague's phone echoes the operator's microphone back.
  let maxLevel = 0;
  const inbound = await (async () => {
    const end = Date.now() + 30_000;
    for (;;) {
      const s = await page.evaluate(() => window.zvonarPhone.phone.inboundAudio());
      if (s) maxLevel = Math.max(maxLevel, s.audioLevel);
      if (s && s.packetsReceived >= 200 && maxLevel > 0.01) return s;
      if (Date.now() > end) return s;
      await page.waitForTimeout(100);
    }
  })();
  await shot('opus_call');
  await page.click('#phone-hangup');
  await page.waitForSelector('#phone-call', { state: 'hidden', timeout: 15_000 });
  return { inbound, maxLevel };
});

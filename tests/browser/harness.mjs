// Browser harness for zvonar's tests: the system Chromium (Debian `chromium`) driven by
// playwright-core, with a fake microphone playing a WAV and pages served from a directory
// of this repository without any web server (Playwright answers the page's requests).
//
// Why pages come from http://127.0.0.1: getUserMedia needs a secure context, and
// http://127.0.0.1 is one; Chromium refuses WebRTC (ICE) to 127.0.0.1 itself, so the test
// runs zvonar in a network namespace reached over a veth pair (10.x addresses) and the page
// talks SIP over ws://10.x…; the page's own origin is never contacted on the network.
//
//   import { launch, serveDir } from "./harness.mjs";
//   const browser = await launch({ wav: "/path/mic.wav" });
//   const context = await browser.newContext();
//   await serveDir(context, "http://127.0.0.1:9", "/repo/web/console");
//   const page = await context.newPage();
//   await page.goto("http://127.0.0.1:9/test/webrtc.html");
import { chromium } from "playwright-core";
import { readFile } from "node:fs/promises";
import { join, normalize, extname } from "node:path";

/** Chromium's path: $CHROMIUM, else Debian's /usr/bin/chromium. */
export function chromiumPath() {
  return process.env.CHROMIUM || "/usr/bin/chromium";
}

/**
 * Launches headless Chromium. `wav`: a 16-bit PCM WAV the fake microphone plays in a loop
 * (omit for a synthetic beep). `args`: more command-line switches.
 */
export async function launch({ wav, args = [] } = {}) {
  const flags = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    // Chromium's Local Network Access checks block a page on 127.0.0.1 from opening
    // ws://10.x (the test's namespace); a real console is served by zvonar itself, same host.
    "--disable-features=LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets,BlockInsecurePrivateNetworkRequests",
    ...(wav ? [`--use-file-for-fake-audio-capture=${wav}`] : []),
    ...args,
  ];
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Tests run as root; Chromium's sandbox refuses root.
    chromiumSandbox: false,
    args: flags,
  });
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".wav": "audio/wav",
};

/** Answers every request to `origin` in `context` with the file under `dir` (404 if none). */
export async function serveDir(context, origin, dir) {
  const root = normalize(dir);
  await context.route(`${origin}/**`, async (route) => {
    const url = new URL(route.request().url());
    const path = normalize(join(root, decodeURIComponent(url.pathname)));
    if (!path.startsWith(root)) return route.fulfill({ status: 403, body: "" });
    try {
      const body = await readFile(path);
      await route.fulfill({
        status: 200,
        body,
        headers: { "content-type": TYPES[extname(path)] || "application/octet-stream" },
      });
    } catch (_) {
      await route.fulfill({ status: 404, body: "not found" });
    }
  });
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

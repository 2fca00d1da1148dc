// Shaka Player in headless Chromium plays a SAMPLE-AES (CMAF cbcs) presentation crawled by
// tests/encryption.rs through EME with the Clear Key CDM (tests/encryption.rs runs it).
//
//   node tests/browser/cbcs_clearkey.mjs <crawl-dir> <key-id-hex> <key-hex>
//
// Serves <crawl-dir> and the page and Shaka Player on a free loopback port, plays master.m3u8
// muted with `drm.clearKeys` {kid: key} and checks: no error, playback past 4 s with decoded
// video frames. Prints `ok - …` / `not ok - …`, exits 1 on any failure.

import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIR = path.resolve(process.argv[2] || '.');
const NODE_DIR = path.resolve(process.env.LIBHLS_NODE_DIR || HERE);
const CHROMIUM = process.env.LIBHLS_CHROMIUM || '/usr/bin/chromium';
const require = createRequire(path.join(NODE_DIR, 'package.json'));
const { chromium } = require('playwright-core');
const HLS_JS = readFileSync(require.resolve('shaka-player/dist/shaka-player.compiled.js'));
const [KID, KEY] = [process.argv[3], process.argv[4]];

const PAGE = `<!DOCTYPE html><html><head><meta charset="utf-8"><script src="/hls.min.js"></script></head>
<body><video id="v" muted playsinline width="320"></video><script>
window.R = { fatal: [], errors: [], keyLoaded: 0 };
shaka.polyfill.installAll();
const v = document.getElementById('v');
const player = new shaka.Player();
player.addEventListener('error', (e) => { R.fatal.push(String(e.detail && e.detail.code) + ' ' + JSON.stringify(e.detail && e.detail.data || []).slice(0, 300)); });
player.configure({ drm: { clearKeys: { '${KID}': '${KEY}' } } });
(async () => {
  try { await player.attach(v); await player.load('/master.m3u8'); R.keyLoaded = 1; await v.play(); }
  catch (e) { R.fatal.push('load: ' + (e.code || '') + ' ' + JSON.stringify(e.data || String(e)).slice(0, 300)); }
})();
</script></body></html>`;

let keyFetches = 0;
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(PAGE); }
  if (url.pathname === '/hls.min.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(HLS_JS); }
  const file = path.join(DIR, path.basename(url.pathname));
  if (!existsSync(file)) { res.writeHead(404); return res.end(); }
  if (url.pathname.endsWith('key.bin')) keyFetches++;
  const type = file.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'application/octet-stream';
  res.writeHead(200, { 'content-type': type });
  res.end(readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

let failed = 0;
const check = (cond, what, detail = '') => {
  console.log(cond ? `ok - ${what}` : `not ok - ${what}${detail ? ': ' + detail : ''}`);
  if (!cond) failed++;
};

const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true, timeout: 30_000,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required',
    '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/`, { timeout: 15_000 });
  let state = null;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    state = await page.evaluate(() => ({ t: document.getElementById('v').currentTime, fatal: R.fatal, errors: R.errors,
      keyLoaded: R.keyLoaded, frames: document.getElementById('v').getVideoPlaybackQuality().totalVideoFrames }));
    if (state.fatal.length || state.t > 4) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  check(state.fatal.length === 0, 'Shaka Player plays the cbcs presentation with Clear Key without an error', JSON.stringify(state));
  check(state.t > 4 && state.frames > 50, `playback passes 4 s with decoded frames (t=${state.t.toFixed(2)}, frames=${state.frames})`, JSON.stringify(state));
} finally {
  await browser.close();
  server.close();
}
console.log(`cbcs_clearkey: ${failed ? 'FAILED' : 'passed'}`);
process.exit(failed ? 1 : 0);

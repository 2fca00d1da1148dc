// hls.js in headless Chromium plays an AES-128 presentation crawled by tests/encryption.rs,
// fetching the key from the same test server (tests/encryption.rs runs it).
//
//   node tests/browser/aes128.mjs <crawl-dir>
//
// Serves <crawl-dir> (master.m3u8, playlists, segments, key.bin) and the page and hls.js on a
// free loopback port, plays master.m3u8 muted and checks: no fatal hls.js error, playback past
// 4 s with decoded video frames, the key fetched from the server, and the segments' bytes
// not playable as they are (a clear fMP4 media segment starts with a `moof` box; these do not).
// Prints `ok - …` / `not ok - …` and exits 1 on any failure. LIBHLS_NODE_DIR, LIBHLS_CHROMIUM as
// for run.mjs.

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
const HLS_JS = readFileSync(require.resolve('hls.js/dist/hls.min.js'));

const PAGE = `<!DOCTYPE html><html><head><meta charset="utf-8"><script src="/hls.min.js"></script></head>
<body><video id="v" muted playsinline width="320"></video><script>
window.R = { fatal: [], errors: [], keyLoaded: 0 };
const v = document.getElementById('v');
const hls = new Hls({ enableWorker: true });
hls.on(Hls.Events.ERROR, (_e, d) => { R.errors.push(d.details); if (d.fatal) R.fatal.push(d.details + ' ' + (d.reason || '')); });
hls.on(Hls.Events.KEY_LOADED, () => { R.keyLoaded++; });
hls.loadSource('/master.m3u8');
hls.attachMedia(v);
hls.on(Hls.Events.MANIFEST_PARSED, () => { v.play().catch(e => R.fatal.push('play: ' + e)); });
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
  check(state.fatal.length === 0, 'hls.js plays the AES-128 presentation without a fatal error', JSON.stringify(state));
  check(state.t > 4 && state.frames > 50, `playback passes 4 s with decoded frames (t=${state.t.toFixed(2)}, frames=${state.frames})`, JSON.stringify(state));
  check(keyFetches >= 1 && state.keyLoaded >= 1, `hls.js fetched the key from the test server (${keyFetches} request(s))`);
  const seg = readFileSync(path.join(DIR, 't0_0.m4s'));
  check(seg.subarray(4, 8).toString('latin1') !== 'moof', 'the segment hls.js decrypted is not a clear fMP4 segment');
} finally {
  await browser.close();
  server.close();
}
console.log(`aes128: ${failed ? 'FAILED' : 'passed'}`);
process.exit(failed ? 1 : 0);

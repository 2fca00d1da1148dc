// A player in headless Chromium plays a presentation crawled into a directory (tests/encryption.rs
// and tests/clips.rs run it), one page for every crawl the tests serve that way:
//
//   node tests/browser/crawl_play.mjs <crawl-dir> aes128
//   node tests/browser/crawl_play.mjs <crawl-dir> cbcs <key-id-hex> <key-hex>
//   node tests/browser/crawl_play.mjs <crawl-dir> clip <source-file> <from-ms> <to-ms> [first-picture-s]
//   node tests/browser/crawl_play.mjs <crawl-dir> clip-shaka <source-file> <from-ms> <to-ms> [first-picture-s]
//
// Serves <crawl-dir> (master.m3u8, playlists, segments, key.bin) and the page and the player on a
// free loopback port and plays master.m3u8 muted:
// - aes128: hls.js, fetching the key from the server. Checks: no fatal error, playback past 4 s
//   with decoded video frames, the key fetched, and the segments' bytes not playable as they are
//   (a clear fMP4 media segment starts with a `moof` box; these do not).
// - cbcs: Shaka Player through EME with the Clear Key CDM (`drm.clearKeys` {kid: key}). Checks:
//   no error, playback past 4 s with decoded video frames.
// - clip: hls.js plays the clip [from, to) of <source-file>. Checks: no fatal error; the picture
//   shown at <first-picture-s> (default 0), and at 2 s, is the source's frame at from (+ that
//   time), within one frame (the picture, drawn small and grey, matched against the source's
//   frames decoded by FFmpeg, by correlation); the duration is the clip's; played from 0 it
//   reaches the end (`ended`) with currentTime never negative, never going back, never past the
//   duration, and ending there. A keyframe-aligned clip's hidden lead is buffered in the first
//   ticks of the timeline (src/engine/lead.rs): paused at exactly 0, Chromium shows its keyframe,
//   so tests/clips.rs checks its first picture a few milliseconds in.
// - clip-shaka: the clip checks with Shaka Player.
// LIBHLS_PLAYER_DEBUG=1 prints the player's debug log and every SourceBuffer operation.
// Prints `ok - …` / `not ok - …` and exits 1 on any failure. LIBHLS_NODE_DIR, LIBHLS_CHROMIUM as
// for run.mjs.

import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIR = path.resolve(process.argv[2] || '.');
const MODE = process.argv[3];
const NODE_DIR = path.resolve(process.env.LIBHLS_NODE_DIR || HERE);
const CHROMIUM = process.env.LIBHLS_CHROMIUM || '/usr/bin/chromium';
const require = createRequire(path.join(NODE_DIR, 'package.json'));
const { chromium } = require('playwright-core');

/// The size pictures are compared at.
const GRAB_W = 160, GRAB_H = 90;

/// LIBHLS_PLAYER_DEBUG=1: the player's own debug log and every SourceBuffer operation (append
/// with its bytes, timestampOffset, appendWindow, remove, and the buffered ranges after it) are
/// printed as `# page: …` lines (hls.js then runs without its worker, so its log reaches the page).
const DEBUG = !!process.env.LIBHLS_PLAYER_DEBUG && process.env.LIBHLS_PLAYER_DEBUG !== '0';
const SB_TRACE = `<script>
(() => {
  const P = SourceBuffer.prototype, ranges = (b) => Array.from({ length: b.length }, (_, i) =>
    b.start(i).toFixed(3) + '-' + b.end(i).toFixed(3)).join(',');
  const name = (sb) => sb.__name || '?';
  const addSB = MediaSource.prototype.addSourceBuffer;
  MediaSource.prototype.addSourceBuffer = function (mime) {
    const sb = addSB.call(this, mime);
    sb.__name = mime;
    sb.addEventListener('updateend', () => console.log('[sb] ' + name(sb) + ' updateend buffered ' + ranges(sb.buffered)));
    sb.addEventListener('error', () => console.log('[sb] ' + name(sb) + ' error'));
    console.log('[sb] addSourceBuffer ' + mime);
    return sb;
  };
  const append = P.appendBuffer;
  P.appendBuffer = function (d) {
    console.log('[sb] ' + name(this) + ' append ' + d.byteLength + ' B, timestampOffset ' + this.timestampOffset +
      ', window ' + this.appendWindowStart + '..' + this.appendWindowEnd);
    return append.call(this, d);
  };
  const remove = P.remove;
  P.remove = function (a, b) { console.log('[sb] ' + name(this) + ' remove ' + a + '..' + b); return remove.call(this, a, b); };
  const eos = MediaSource.prototype.endOfStream;
  MediaSource.prototype.endOfStream = function (e) { console.log('[ms] endOfStream ' + (e || '')); return eos.call(this, e); };
})();
</script>`;

/// Every SourceBuffer the player creates, with its MIME type (window.SBS), for the clip checks.
const SB_LIST = `<script>
window.SBS = [];
(() => {
  const add = MediaSource.prototype.addSourceBuffer;
  MediaSource.prototype.addSourceBuffer = function (mime) { const sb = add.call(this, mime); SBS.push({ mime, sb }); return sb; };
})();
</script>`;

/// The clip checks' page code: timeupdate times and grab(t), the picture shown at t.
const CLIP_PAGE_CODE = `
const W = ${GRAB_W}, H = ${GRAB_H};
const canvas = document.createElement('canvas');
canvas.width = W; canvas.height = H;
const g = canvas.getContext('2d', { willReadFrequently: true });
window.R.times = [];
v.addEventListener('timeupdate', () => R.times.push(v.currentTime));
// The picture shown at t, drawn W x H, as grey levels.
window.grab = async (t) => {
  await new Promise((resolve) => {
    const done = () => { v.removeEventListener('seeked', done); resolve(); };
    v.addEventListener('seeked', done);
    v.currentTime = t;
  });
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 1500);
    v.requestVideoFrameCallback(() => { clearTimeout(timer); resolve(); });
  });
  g.drawImage(v, 0, 0, W, H);
  const d = g.getImageData(0, 0, W, H).data;
  const grey = new Array(W * H);
  for (let i = 0; i < W * H; i++) grey[i] = 0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2];
  return { shownAt: v.currentTime, grey };
};`;

const HLS_JS_PAGE = (extra) => `<!DOCTYPE html><html><head><meta charset="utf-8">${SB_LIST}${DEBUG ? SB_TRACE : ''}<script src="/player.js"></script></head>
<body><video id="v" muted playsinline width="320"></video><script>
window.R = { fatal: [], errors: [], keyLoaded: 0 };
const v = document.getElementById('v');
const hls = new Hls(${DEBUG ? '{ enableWorker: false, debug: true }' : '{ enableWorker: true }'});
hls.on(Hls.Events.ERROR, (_e, d) => { R.errors.push(d.details); if (d.fatal) R.fatal.push(d.details + ' ' + (d.reason || '')); });
hls.on(Hls.Events.KEY_LOADED, () => { R.keyLoaded++; });
hls.loadSource('/master.m3u8');
hls.attachMedia(v);
${extra}
</script></body></html>`;

const MODES = {
  aes128: {
    player: 'hls.js/dist/hls.min.js',
    page: () => HLS_JS_PAGE(`hls.on(Hls.Events.MANIFEST_PARSED, () => { v.play().catch(e => R.fatal.push('play: ' + e)); });`),
  },
  cbcs: {
    player: 'shaka-player/dist/shaka-player.compiled.js',
    page: ([kid, key]) => `<!DOCTYPE html><html><head><meta charset="utf-8"><script src="/player.js"></script></head>
<body><video id="v" muted playsinline width="320"></video><script>
window.R = { fatal: [], errors: [], keyLoaded: 0 };
shaka.polyfill.installAll();
const v = document.getElementById('v');
const player = new shaka.Player();
player.addEventListener('error', (e) => { R.fatal.push(String(e.detail && e.detail.code) + ' ' + JSON.stringify(e.detail && e.detail.data || []).slice(0, 300)); });
player.configure({ drm: { clearKeys: { '${kid}': '${key}' } } });
(async () => {
  try { await player.attach(v); await player.load('/master.m3u8'); R.keyLoaded = 1; await v.play(); }
  catch (e) { R.fatal.push('load: ' + (e.code || '') + ' ' + JSON.stringify(e.data || String(e)).slice(0, 300)); }
})();
</script></body></html>`,
  },
  clip: {
    player: 'hls.js/dist/hls.min.js',
    name: 'hls.js',
    // Paused: the checks seek, grab pictures, then play.
    page: () => HLS_JS_PAGE(CLIP_PAGE_CODE),
  },
  'clip-shaka': {
    player: 'shaka-player/dist/shaka-player.compiled.js',
    name: 'Shaka Player',
    page: () => `<!DOCTYPE html><html><head><meta charset="utf-8">${SB_LIST}${DEBUG ? SB_TRACE : ''}<script src="/player.js"></script></head>
<body><video id="v" muted playsinline width="320"></video><script>
window.R = { fatal: [], errors: [], keyLoaded: 0 };
shaka.polyfill.installAll();
${DEBUG ? "shaka.log && shaka.log.setLevel && shaka.log.setLevel(shaka.log.Level.V1);" : ''}
const v = document.getElementById('v');
const player = new shaka.Player();
player.addEventListener('error', (e) => { R.fatal.push(String(e.detail && e.detail.code) + ' ' + JSON.stringify(e.detail && e.detail.data || []).slice(0, 300)); });
(async () => {
  try { await player.attach(v); await player.load('/master.m3u8'); }
  catch (e) { R.fatal.push('load: ' + (e.code || '') + ' ' + JSON.stringify(e.data || String(e)).slice(0, 300)); }
})();
${CLIP_PAGE_CODE}
</script></body></html>`,
  },
};
const mode = MODES[MODE];
if (!mode) {
  console.error(`usage: crawl_play.mjs <crawl-dir> aes128 | cbcs <kid> <key> | clip|clip-shaka <source> <from-ms> <to-ms> [first-picture-s]`);
  process.exit(2);
}
const PLAYER = readFileSync(require.resolve(mode.player));
const PAGE = mode.page(process.argv.slice(4));

let keyFetches = 0;
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(PAGE); }
  if (url.pathname === '/player.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(PLAYER); }
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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// Plays until past 4 s (or a fatal error, or 60 s); the last state seen.
async function playPast4s(page) {
  let state = null;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    state = await page.evaluate(() => ({ t: document.getElementById('v').currentTime, fatal: R.fatal, errors: R.errors,
      keyLoaded: R.keyLoaded, frames: document.getElementById('v').getVideoPlaybackQuality().totalVideoFrames }));
    if (state.fatal.length || state.t > 4) break;
    await sleep(200);
  }
  return state;
}

/// The source's frames from 0 to `untilS` decoded by FFmpeg, W x H grey, with their
/// presentation times (s).
function sourceFrames(source, untilS) {
  const probe = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-read_intervals', `%${untilS}`,
    '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', source], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (probe.status !== 0) throw new Error(`ffprobe ${source}: ${probe.stderr}`);
  const times = probe.stdout.split('\n').map((l) => parseFloat(l)).filter((t) => !Number.isNaN(t));
  const dec = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', source, '-map', '0:v:0', '-fps_mode', 'passthrough',
    '-frames:v', String(times.length), '-vf', `scale=${GRAB_W}:${GRAB_H}:flags=area,format=gray`, '-f', 'rawvideo', '-'],
  { maxBuffer: 1 << 28 });
  if (dec.status !== 0) throw new Error(`ffmpeg ${source}: ${dec.stderr}`);
  const n = GRAB_W * GRAB_H;
  const frames = [];
  for (let i = 0; i * n < dec.stdout.length && i < times.length; i++) frames.push({ t: times[i], grey: dec.stdout.subarray(i * n, (i + 1) * n) });
  return frames.sort((a, b) => a.t - b.t);
}

/// Pearson correlation of two grey pictures (blind to the small level differences between
/// FFmpeg's and Chromium's colour conversions).
function correlation(a, b) {
  const n = a.length;
  let sa = 0, sb = 0;
  for (let i = 0; i < n; i++) { sa += a[i]; sb += b[i]; }
  const ma = sa / n, mb = sb / n;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) { const x = a[i] - ma, y = b[i] - mb; num += x * y; da += x * x; db += y * y; }
  return num / Math.sqrt(da * db || 1);
}

/// Index of the source frame shown at source time `t`.
const frameAt = (frames, t) => {
  let k = 0;
  for (let i = 0; i < frames.length; i++) if (frames[i].t <= t + 1e-6) k = i;
  return k;
};

/// In the page: the buffered ranges of the element and of every SourceBuffer.
const buffered = () => {
  const r = (b) => Array.from({ length: b.length }, (_, i) => `${b.start(i).toFixed(3)}-${b.end(i).toFixed(3)}`).join(',');
  const v = document.getElementById('v');
  return `ready ${v.readyState} element ${r(v.buffered)}; ` + SBS.map((s) => `${s.mime.split(';')[0]} ${r(s.sb.buffered)}`).join('; ');
};

async function clipChecks(page, [source, fromArg, toArg, firstArg]) {
  const from = Number(fromArg) / 1000, to = Number(toArg) / 1000, length = to - from;
  const first = Number(firstArg || 0);
  const frames = sourceFrames(source, to + 1);
  const frameS = frames.length > 1 ? frames[1].t - frames[0].t : 0.04;
  // Loaded: the first picture there.
  const deadline = Date.now() + 30_000;
  let state = null;
  while (Date.now() < deadline) {
    state = await page.evaluate(() => ({ ready: document.getElementById('v').readyState, fatal: R.fatal, errors: R.errors,
      duration: document.getElementById('v').duration }));
    if (state.fatal.length || state.ready >= 2) break;
    await sleep(200);
  }
  check(state.fatal.length === 0 && state.ready >= 2, `${mode.name} loads the clip without a fatal error`, JSON.stringify(state));
  console.log('# buffered: ' + await page.evaluate(buffered));
  if (state.ready < 2) return;
  // The video is buffered from the start (what MSE drops before 0 takes the rest of its GOP).
  const videoStart = await page.evaluate(() => {
    const t = SBS.find((s) => s.mime.startsWith('video/'));
    return t && t.sb.buffered.length ? t.sb.buffered.start(0) : null;
  });
  check(videoStart !== null && videoStart <= frameS, `the video is buffered from the start (from ${videoStart} s)`);
  // Within three frames: MSE's duration is the buffered end, which holds the picture decoded
  // past the end (a P picture that B pictures before the end reference, one frame), and a
  // keyframe-aligned clip's timeline in Chromium is behind the edit list's by less than a frame
  // (src/engine/lead.rs).
  check(Math.abs(state.duration - length) <= 3 * frameS,
    `the clip lasts ${length.toFixed(3)} s (duration ${state.duration.toFixed(3)} s)`);
  for (const at of [first, 2]) {
    const { shownAt, grey } = await page.evaluate((t) => window.grab(t), at);
    let best = 0, bestC = -2;
    frames.forEach((f, i) => { const c = correlation(grey, f.grey); if (c > bestC) { bestC = c; best = i; } });
    const want = frameAt(frames, from + shownAt);
    check(Math.abs(best - want) <= 1,
      `the picture at ${at} s is the source's at ${(from + at).toFixed(2)} s, within a frame (shown: source frame ` +
      `${best} at ${frames[best].t.toFixed(3)} s, correlation ${bestC.toFixed(3)}; wanted frame ${want} at ${frames[want].t.toFixed(3)} s)`);
  }
  // From the start to the end.
  await page.evaluate(async () => { const v = document.getElementById('v'); R.times = []; v.currentTime = 0; await v.play(); });
  const end = Date.now() + (length + 30) * 1000;
  while (Date.now() < end) {
    state = await page.evaluate(() => ({ ended: document.getElementById('v').ended, t: document.getElementById('v').currentTime,
      fatal: R.fatal, errors: R.errors, times: R.times, duration: document.getElementById('v').duration,
      frames: document.getElementById('v').getVideoPlaybackQuality().totalVideoFrames }));
    if (state.ended || state.fatal.length) break;
    await sleep(200);
  }
  check(state.fatal.length === 0, `${mode.name} plays the clip without a fatal error`, JSON.stringify(state.fatal));
  console.log(`# at the end: t ${state.t} ` + await page.evaluate(buffered) + ' errors ' + (state.errors || []).join(','));
  check(state.ended && Math.abs(state.t - state.duration) <= 2 * frameS,
    `played from 0 it reaches the end (ended: ${state.ended}, currentTime ${state.t.toFixed(3)} of ${state.duration.toFixed(3)} s)`);
  const times = state.times;
  const back = times.findIndex((t, i) => i > 0 && t < times[i - 1] - 1e-3);
  check(times.length > 3 && times.every((t) => t >= 0 && t <= state.duration + 1e-3) && back < 0,
    `currentTime stays in [0, duration] and never goes back (${times.length} updates, ${times[0]?.toFixed(3)} .. ${times.at(-1)?.toFixed(3)})`,
    JSON.stringify(times.map((t) => +t.toFixed(3))));
}

const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true, timeout: 30_000,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required',
    '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = await browser.newPage();
  if (DEBUG) {
    const t0 = Date.now();
    page.on('console', (m) => console.log(`# page ${((Date.now() - t0) / 1000).toFixed(2)}: ${m.text()}`));
  }
  await page.goto(`${base}/`, { timeout: 15_000 });
  if (MODE === 'aes128') {
    const state = await playPast4s(page);
    check(state.fatal.length === 0, 'hls.js plays the AES-128 presentation without a fatal error', JSON.stringify(state));
    check(state.t > 4 && state.frames > 50, `playback passes 4 s with decoded frames (t=${state.t.toFixed(2)}, frames=${state.frames})`, JSON.stringify(state));
    check(keyFetches >= 1 && state.keyLoaded >= 1, `hls.js fetched the key from the test server (${keyFetches} request(s))`);
    const seg = readFileSync(path.join(DIR, 't0_0.m4s'));
    check(seg.subarray(4, 8).toString('latin1') !== 'moof', 'the segment hls.js decrypted is not a clear fMP4 segment');
  } else if (MODE === 'cbcs') {
    const state = await playPast4s(page);
    check(state.fatal.length === 0, 'Shaka Player plays the cbcs presentation with Clear Key without an error', JSON.stringify(state));
    check(state.t > 4 && state.frames > 50, `playback passes 4 s with decoded frames (t=${state.t.toFixed(2)}, frames=${state.frames})`, JSON.stringify(state));
  } else {
    await clipChecks(page, process.argv.slice(4)); // clip, clip-shaka
  }
} finally {
  await browser.close();
  server.close();
}
console.log(`crawl_play ${MODE}: ${failed ? 'FAILED' : 'passed'}`);
process.exit(failed ? 1 : 0);

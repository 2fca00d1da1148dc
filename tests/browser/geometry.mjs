// Picture shape and VP9 in a real browser (issue #14): for each test file, Chromium plays the
// source file directly and hls.js plays libhls's presentation of it; both must report the same
// videoWidth x videoHeight (rotation and sample aspect ratio applied), each must decode frames, and
// hls.js must buffer from the source's start (no first GOP lost to an edit list it ignores).
//
//   node tests/browser/geometry.mjs <base-url> FILE...     e.g. http://127.0.0.1:8080 phone_rotated.mp4
//
// <base-url> must serve target/media (hls-serve ... target/media). The source files themselves
// are served from target/media by request interception under <base-url>/__geo_src/, the page and
// hls.js under <base-url>/__geo_test/. Environment: LIBHLS_NODE_DIR (node_modules with hls.js and
// playwright-core), LIBHLS_CHROMIUM (browser executable). Prints `ok - ...` / `not ok - ...`,
// then `browser: N passed, M failed`; exits 1 when a check failed.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inChromium } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MEDIA = path.resolve(HERE, '../../target/media');
const BUDGET_MS = 100_000;
// One frame of the slowest test file (25 fps) plus rounding: how late hls.js may start buffering.
const ONE_FRAME_S = 0.041;
const [BASE_ARG, ...FILES] = process.argv.slice(2);
if (!BASE_ARG || FILES.length === 0) {
  console.error('usage: node geometry.mjs <base-url> FILE...');
  process.exit(2);
}
const BASE = BASE_ARG.replace(/\/+$/, '');
const NODE_DIR = path.resolve(process.env.LIBHLS_NODE_DIR || HERE);
const CHROMIUM = process.env.LIBHLS_CHROMIUM || '/usr/bin/chromium';
const require = createRequire(path.join(NODE_DIR, 'package.json'));
const { chromium } = require('playwright-core');
const HLS_JS = require.resolve('hls.js/dist/hls.min.js');
const TYPES = { mp4: 'video/mp4', mkv: 'video/x-matroska', webm: 'video/webm' };

const PAGE = `<!DOCTYPE html><html><head><meta charset="utf-8"><script src="hls.min.js"></script></head>
<body><script>
'use strict';
// Plays src (a file, or with hls=true a master playlist through hls.js) muted until 1.5 s of it
// played; resolves with the element's picture size and decoded frame count.
window.play = (src, hls) => new Promise((resolve) => {
  const v = document.createElement('video');
  v.muted = true;
  v.playsInline = true;
  document.body.appendChild(v);
  const errors = [];
  const done = (why) => {
    const q = v.getVideoPlaybackQuality();
    const buffered = [];
    for (let i = 0; i < v.buffered.length; i++) buffered.push([v.buffered.start(i), v.buffered.end(i)]);
    resolve({ why, width: v.videoWidth, height: v.videoHeight, frames: q.totalVideoFrames, buffered,
      time: v.currentTime, errors, mediaError: v.error ? v.error.code + ' ' + v.error.message : null });
    if (player) player.destroy();
    v.remove();
  };
  let player = null;
  if (hls) {
    player = new Hls({ enableWorker: true });
    player.on(Hls.Events.ERROR, (_e, d) => errors.push((d.fatal ? 'fatal ' : '') + d.details + (d.reason ? ': ' + d.reason : '')));
    player.loadSource(src);
    player.attachMedia(v);
  } else {
    v.src = src;
  }
  v.addEventListener('error', () => done('error'));
  v.addEventListener('timeupdate', () => { if (v.currentTime >= 1.5) done('played'); });
  setTimeout(() => done('timeout'), 20000);
  v.play().catch((e) => errors.push('play(): ' + e));
});
</script></body></html>`;

await inChromium({ chromium, executablePath: CHROMIUM, label: 'geometry', budgetMs: BUDGET_MS, args: ['--autoplay-policy=no-user-gesture-required'] }, async (context, report) => {
  await context.route(`${BASE}/__geo_test/page.html`, (r) => r.fulfill({ status: 200, contentType: 'text/html', body: PAGE }));
  await context.route(`${BASE}/__geo_test/hls.min.js`, (r) =>
    r.fulfill({ status: 200, contentType: 'text/javascript', body: readFileSync(HLS_JS) }));
  await context.route(`${BASE}/__geo_src/**`, (r) => {
    const name = decodeURIComponent(new URL(r.request().url()).pathname.split('/').pop());
    r.fulfill({ status: 200, contentType: TYPES[name.split('.').pop()] || 'application/octet-stream', path: path.join(MEDIA, name) });
  });
  const page = context.pages()[0] || (await context.newPage());
  await page.goto(`${BASE}/__geo_test/page.html`);
  for (const file of FILES) {
    const direct = await page.evaluate(([s]) => window.play(s, false), [`${BASE}/__geo_src/${encodeURIComponent(file)}`]);
    const hls = await page.evaluate(([s]) => window.play(s, true), [`${BASE}/${encodeURIComponent(file)}/master.m3u8`]);
    console.log(`# info: ${file}: source ${JSON.stringify(direct)}`);
    console.log(`# info: ${file}: hls.js ${JSON.stringify(hls)}`);
    report(direct.why === 'played' && direct.frames > 0 && direct.width > 0, `${file}: Chromium plays the source file`,
      `${direct.why}, ${direct.frames} frames, ${direct.mediaError || ''}`);
    report(hls.why === 'played' && hls.frames > 0 && hls.width > 0 && hls.errors.every((e) => !e.startsWith('fatal')),
      `${file}: hls.js plays the presentation with picture`,
      `${hls.why}, ${hls.width}x${hls.height}, ${hls.frames} frames, errors ${JSON.stringify(hls.errors)} ${hls.mediaError || ''}`);
    // The presentation starts where the source does: the first GOP is buffered (a video edit list
    // that hls.js ignores once started the first keyframe before 0 and MSE dropped the GOP).
    const srcStart = direct.buffered.length ? direct.buffered[0][0] : NaN;
    const hlsStart = hls.buffered.length ? hls.buffered[0][0] : NaN;
    report(hlsStart <= Math.max(srcStart, 0) + ONE_FRAME_S,
      `${file}: hls.js buffers the presentation from its start (source file from ${srcStart} s)`,
      `hls.js buffered ${JSON.stringify(hls.buffered)}, the source file ${JSON.stringify(direct.buffered)}`);
    report(hls.width === direct.width && hls.height === direct.height,
      `${file}: the picture has the shape the source file shows (${direct.width}x${direct.height})`,
      `hls.js shows ${hls.width}x${hls.height}, the source file ${direct.width}x${direct.height}`);
  }
});

// Scrubbing thumbnails in a real browser: for each test file, Chromium's own WebVTT parser loads
// libhls's thumbnails.vtt (a <track kind="metadata">, as the video.js and JW Player thumbnail
// plugins read it), and for every cue the page loads the sprite sheet its text names (relative to
// the .vtt, like master.m3u8's names), draws the #xywh= tile into a canvas and compares its pixels
// with thumb_<cue start ms>.jpg drawn at the same size: they must be the same picture (mean
// absolute difference per RGB channel below SAME), and not the picture of the next cue (above
// SAME), and the tile must not be blank.
//
//   node tests/browser/thumbnails.mjs <base-url> FILE...     e.g. http://127.0.0.1:8080 h264_aac.mp4
//
// <base-url> must serve target/media (hls-serve ... target/media); the page is served under
// <base-url>/__thumb_test/ by request interception (same origin: the canvas stays readable).
// Environment: LIBHLS_NODE_DIR (node_modules with playwright-core), LIBHLS_CHROMIUM (browser).
// Prints `ok - ...` / `not ok - ...`, then `browser: N passed, M failed`; exits 1 when a check failed.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inChromium } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUDGET_MS = 100_000;
// The tile and the thumbnail are the same decoded keyframe, scaled by the same code, JPEG-coded
// separately (a tile inside a sheet, the thumbnail alone): measured 0.0–1.6 levels per channel;
// pictures 10 s apart of these moving test patterns 10.7 or more (the line and counter moved; the
// scene cut of h264_aac.mp4 about 157).
const SAME = 4;
const [BASE_ARG, ...FILES] = process.argv.slice(2);
if (!BASE_ARG || FILES.length === 0) {
  console.error('usage: node thumbnails.mjs <base-url> FILE...');
  process.exit(2);
}
const BASE = BASE_ARG.replace(/\/+$/, '');
const NODE_DIR = path.resolve(process.env.LIBHLS_NODE_DIR || HERE);
const CHROMIUM = process.env.LIBHLS_CHROMIUM || '/usr/bin/chromium';
const require = createRequire(path.join(NODE_DIR, 'package.json'));
const { chromium } = require('playwright-core');

const PAGE = `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><script>
'use strict';
// The cues of a WebVTT file as Chromium parses it (a hidden metadata track).
window.cues = (url) => new Promise((resolve, reject) => {
  const v = document.createElement('video');
  const t = document.createElement('track');
  t.kind = 'metadata';
  t.src = url;
  t.default = true;
  v.appendChild(t);
  document.body.appendChild(v);
  t.track.mode = 'hidden';
  t.addEventListener('load', () => resolve(Array.from(t.track.cues).map((c) => ({ start: c.startTime, end: c.endTime, text: c.text }))));
  t.addEventListener('error', () => reject(new Error('track error loading ' + url)));
  setTimeout(() => reject(new Error('track timeout ' + url)), 15000);
});
const images = new Map();
const image = (url) => {
  if (!images.has(url)) {
    images.set(url, new Promise((resolve, reject) => {
      const i = new Image();
      i.onload = () => resolve(i);
      i.onerror = () => reject(new Error('image error ' + url));
      i.src = url;
    }));
  }
  return images.get(url);
};
// RGBA pixels of (part of) an image drawn at w x h.
const pixels = (img, w, h, part) => {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const g = c.getContext('2d');
  if (part) g.drawImage(img, part[0], part[1], part[2], part[3], 0, 0, w, h);
  else g.drawImage(img, 0, 0, w, h);
  return g.getImageData(0, 0, w, h).data;
};
const mad = (a, b) => {
  let s = 0, n = 0;
  for (let i = 0; i < a.length; i += 4) for (let k = 0; k < 3; k++) { s += Math.abs(a[i + k] - b[i + k]); n++; }
  return s / n;
};
const spread = (a) => {
  let lo = 255, hi = 0;
  for (let i = 0; i < a.length; i += 4) { const y = (a[i] + a[i + 1] + a[i + 2]) / 3; lo = Math.min(lo, y); hi = Math.max(hi, y); }
  return hi - lo;
};
window.check = async (dir) => {
  const vttUrl = dir + '/thumbnails.vtt';
  const cues = await window.cues(vttUrl);
  const out = [];
  for (let i = 0; i < cues.length; i++) {
    const c = cues[i];
    const [uri, frag] = c.text.split('#xywh=');
    const xywh = frag.split(',').map(Number);
    const sheetUrl = new URL(uri, new URL(vttUrl, location.href)).href;
    const sheet = await image(sheetUrl);
    const ms = Math.round(c.start * 1000);
    const thumb = await image(dir + '/thumb_' + ms + '.jpg');
    const [w, h] = [xywh[2], xywh[3]];
    const tile = pixels(sheet, w, h, xywh);
    const r = { start: c.start, end: c.end, uri, xywh, sheet: [sheet.naturalWidth, sheet.naturalHeight],
      thumb: [thumb.naturalWidth, thumb.naturalHeight], same: mad(tile, pixels(thumb, w, h)), spread: spread(tile) };
    if (i + 1 < cues.length) {
      const next = await image(dir + '/thumb_' + Math.round(cues[i + 1].start * 1000) + '.jpg');
      r.next = mad(tile, pixels(next, w, h));
    }
    out.push(r);
  }
  return out;
};
</script></body></html>`;

await inChromium({ chromium, executablePath: CHROMIUM, label: 'thumbnails', budgetMs: BUDGET_MS, args: [] }, async (context, report) => {
  await context.route(`${BASE}/__thumb_test/page.html`, (r) => r.fulfill({ status: 200, contentType: 'text/html', body: PAGE }));
  const page = context.pages()[0] || (await context.newPage());
  await page.goto(`${BASE}/__thumb_test/page.html`);
  for (const file of FILES) {
    let tiles;
    try {
      tiles = await page.evaluate(([d]) => window.check(d), [`${BASE}/${encodeURIComponent(file)}`]);
    } catch (e) {
      report(false, `${file}: thumbnails.vtt, sheets and thumbnails load`, String(e).split('\n')[0]);
      continue;
    }
    console.log(`# info: ${file}: ${tiles.length} cues; ${tiles.map((t) => `${t.start}s ${t.uri}#${t.xywh} same ${t.same.toFixed(2)} next ${t.next === undefined ? '-' : t.next.toFixed(2)}`).join('; ')}`);
    report(tiles.length > 0 && tiles[0].start === 0 && tiles.every((t, i) => i === 0 || tiles[i - 1].end === t.start),
      `${file}: Chromium parses thumbnails.vtt into cues from 0 without gaps`, JSON.stringify(tiles.map((t) => [t.start, t.end])));
    const outside = tiles.filter((t) => t.xywh[0] + t.xywh[2] > t.sheet[0] || t.xywh[1] + t.xywh[3] > t.sheet[1]
      || t.xywh[2] !== t.thumb[0] || t.xywh[3] !== t.thumb[1]);
    report(outside.length === 0, `${file}: every tile lies inside its loaded sheet and has the thumbnail's size`, JSON.stringify(outside));
    const wrong = tiles.filter((t) => !(t.same < SAME) || t.spread < 50);
    report(wrong.length === 0, `${file}: every tile drawn from its sheet shows thumb_<cue start>.jpg's picture`, JSON.stringify(wrong));
    const ambiguous = tiles.filter((t) => t.next !== undefined && !(t.next > SAME));
    report(ambiguous.length === 0, `${file}: no tile also matches the next cue's picture`, JSON.stringify(ambiguous));
  }
});

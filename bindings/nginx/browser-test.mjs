// Browser test of libhls through nginx + ngx_http_hls_module: headless Chromium (playwright-core)
// drives the player page nginx serves (bindings/nginx/www, hls.js) the way a viewer would --
// clicks a file in the list, uses the audio / subtitle menus -- and checks what the viewer would
// see: the folder's files listed, menus filled, video frames decoded, seeking, the other
// language's audio fetched and played, a subtitle cue shown, HTTP errors shown on the page.
//
//   node bindings/nginx/browser-test.mjs <base-url> <media-dir>
//
// <base-url> serves bindings/nginx/conf/run.conf.in over <media-dir> (browser-test.sh sets it
// up). LIBHLS_NODE_DIR: the directory whose node_modules holds playwright-core (default
// target/browser-node); LIBHLS_CHROMIUM: the browser (default /usr/bin/chromium).
// Prints `ok - <check>` / `not ok - <check>: <reason>` and `# ` diagnostics, then
// `nginx browser: N passed, M failed`; exits 1 if any check failed.

import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BUDGET_MS = 120_000;
if (process.argv.length < 4) {
  console.error('usage: node browser-test.mjs <base-url> <media-dir>');
  process.exit(2);
}
const BASE = process.argv[2].replace(/\/+$/, '');
const MEDIA_DIR = process.argv[3];
const NODE_DIR = path.resolve(process.env.LIBHLS_NODE_DIR || path.join(HERE, '../../target/browser-node'));
const CHROMIUM = process.env.LIBHLS_CHROMIUM || '/usr/bin/chromium';
const require = createRequire(path.join(NODE_DIR, 'package.json'));
const { chromium } = require('playwright-core');

let passed = 0;
let failed = 0;
let page = null;
let context = null;
let userDataDir = null;
class Fail extends Error {}
const diag = (m) => { for (const l of String(m).split('\n')) console.log(`# ${l}`); };
const info = (m) => console.log(`# info: ${m}`);
const fmt = (x) => (typeof x === 'number' ? x.toFixed(3) : String(x));

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
    return true;
  } catch (e) {
    failed++;
    const reason = e instanceof Fail ? e.message : String(e && e.stack ? e.stack : e);
    console.log(`not ok - ${name}: ${reason.split('\n')[0]}`);
    if (!(e instanceof Fail)) diag(reason.split('\n').slice(1, 8).join('\n'));
    await dump();
    return false;
  }
}
function skip(name, dep) {
  failed++;
  console.log(`not ok - ${name}: not run, it needs "${dep}" which failed`);
}

/** The page's state, as plain data (window.libhls is player.js's test hook). */
const pstate = () => page.evaluate(() => {
  const { state, video: v, hls: h } = window.libhls;
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
  const opts = (id) => Array.from(document.getElementById(id).options).map((o) => ({ value: o.value, label: o.textContent }));
  return {
    file: state.file, errors: state.errors, events: state.events.slice(-15), masterStatus: state.masterStatus,
    errorBox: document.getElementById('error').hidden ? '' : document.getElementById('error').textContent,
    currentTime: v.currentTime, paused: v.paused, seeking: v.seeking, readyState: v.readyState,
    videoWidth: v.videoWidth, duration: v.duration,
    frames: q ? q.totalVideoFrames : null, corrupted: q ? q.corruptedVideoFrames : null,
    audioBytes: 'webkitAudioDecodedByteCount' in v ? v.webkitAudioDecodedByteCount : null,
    hls: h ? {
      levels: h.levels.length, audioTrack: h.audioTrack, subtitleTrack: h.subtitleTrack,
      audioTracks: h.audioTracks.map((t) => ({ id: t.id, name: t.name, lang: t.lang, url: t.url })),
      subtitleTracks: h.subtitleTracks.map((t) => ({ id: t.id, name: t.name, lang: t.lang })),
    } : null,
    menus: { audio: opts('audio'), subs: opts('subs'), quality: opts('quality') },
    infoRows: Array.from(document.querySelectorAll('#tracks tbody tr')).map((tr) => Array.from(tr.cells).map((c) => c.textContent)),
    summary: document.getElementById('summary').textContent,
  };
});

async function dump() {
  if (!page) return;
  try {
    const s = await pstate();
    const { events, ...rest } = s;
    diag(`page state: ${JSON.stringify(rest)}`);
    for (const e of events) diag(`player event: ${e}`);
  } catch (e) {
    diag(`(no page state: ${e.message})`);
  }
}

/** Wait until `pred(arg)` is true in the page; fails early on an error the page shows. */
async function waitUntil(desc, pred, arg, timeoutMs) {
  const expr = `(() => {
    if (window.libhls && window.libhls.state.errors.length) return 'error';
    return (${pred.toString()})(${JSON.stringify(arg ?? null)}) ? 'ok' : false;
  })()`;
  let r;
  try {
    r = await (await page.waitForFunction(expr, null, { timeout: timeoutMs, polling: 50 })).jsonValue();
  } catch (e) {
    if (e && e.name === 'TimeoutError') {
      const s = await pstate().catch(() => null);
      throw new Fail(`timed out after ${timeoutMs / 1000} s waiting for ${desc}` +
        (s ? ` (currentTime ${fmt(s.currentTime)}, readyState ${s.readyState}, paused ${s.paused})` : ''));
    }
    throw e;
  }
  if (r === 'error') {
    const s = await pstate();
    throw new Fail(`the page shows an error while waiting for ${desc}: ${s.errors.map((e) => `${e.what} ${e.detail}`).join('; ')}`);
  }
}

async function waitAdvance(by, timeoutMs, desc) {
  const from = await page.evaluate(() => window.libhls.video.currentTime);
  await waitUntil(desc || `currentTime to advance ${by} s past ${fmt(from)}`,
    (a) => !window.libhls.video.paused && window.libhls.video.currentTime >= a.from + a.by, { from, by }, timeoutMs);
}

async function seek(t) {
  await page.evaluate((to) => { window.libhls.video.currentTime = to; }, t);
  await waitUntil(`the seek to ${t} s`, (to) => !window.libhls.video.seeking && Math.abs(window.libhls.video.currentTime - to) < 1.5, t, 10_000);
}

/** Clicks `name` in the page's file list and waits until hls.js parsed its master playlist. */
async function openFromList(name) {
  await page.click(`#list a.file[data-name="${name}"]`);
  await waitUntil(`${name}: master playlist parsed`, () => window.libhls.hls && window.libhls.hls.levels.length > 0, null, 15_000);
  const url = page.url();
  if (!url.includes(`file=${encodeURIComponent(name)}`)) throw new Fail(`page URL ${url} does not name ${name}`);
}

async function main() {
  const watchdog = setTimeout(() => {
    console.log(`not ok - time budget: the run did not finish within ${BUDGET_MS / 1000} s`);
    failed++;
    finish();
  }, BUDGET_MS);

  userDataDir = mkdtempSync(path.join(tmpdir(), 'libhls-nginx-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  info(`chromium ${context.browser()?.version() ?? '?'}, server ${BASE}, media ${MEDIA_DIR}`);
  const responses = [];
  const external = [];
  context.on('response', (r) => responses.push({ url: r.url(), status: r.status() }));
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${BASE}/`) && !u.startsWith('data:') && !u.startsWith('blob:')) external.push(u);
  });
  page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => diag(`page error: ${e.message}`));
  page.setDefaultTimeout(15_000);

  // 1. The list ------------------------------------------------------------------------------
  const listed = await check('player page lists the media folder (autoindex JSON through nginx)', async () => {
    await page.goto(`${BASE}/`);
    await page.waitForSelector('#list a.file', { timeout: 10_000 });
    const names = await page.$$eval('#list a.file', (as) => as.map((a) => a.dataset.name));
    const all = readdirSync(MEDIA_DIR);
    const want = all.filter((n) => /\.(mp4|mkv|m4a|mov|ts|mp3|mka|webm)$/.test(n) && statSync(path.join(MEDIA_DIR, n)).isFile());
    const missing = want.filter((n) => !names.includes(n));
    if (missing.length) throw new Fail(`the list lacks ${missing.join(', ')} (it shows ${names.length} files)`);
    const extra = names.filter((n) => !all.includes(n) || n.startsWith('.') || /\.(txt|json|lock)$/.test(n));
    if (extra.length) throw new Fail(`the list shows names that are not media files of the folder: ${extra.join(', ')}`);
    const dirs = await page.$$eval('#list a.dir', (as) => as.map((a) => a.dataset.name));
    const wantDirs = all.filter((n) => !n.startsWith('.') && statSync(path.join(MEDIA_DIR, n)).isDirectory());
    if (dirs.sort().join() !== wantDirs.sort().join()) throw new Fail(`sub-folders listed ${JSON.stringify(dirs)}, expected ${JSON.stringify(wantDirs)}`);
    const hasHls = await page.evaluate(() => typeof Hls === 'function' && Hls.isSupported());
    if (!hasHls) throw new Fail('hls.js not loaded from /hls.js/ (or no MSE)');
    info(`list: ${names.length} media files, e.g. ${names.slice(0, 5).join(', ')}`);
  });

  // 2. multi_audio.mkv: menus + media info ------------------------------------------------------
  let multi = false;
  if (!listed) skip('multi_audio.mkv: chosen in the list, menus and media info filled', 'the list');
  else multi = await check('multi_audio.mkv: chosen in the list, menus and media info filled', async () => {
    await openFromList('multi_audio.mkv');
    await waitUntil('media info table', () => document.querySelectorAll('#tracks tbody tr').length > 0, null, 10_000);
    const s = await pstate();
    info(`menus: audio ${JSON.stringify(s.menus.audio.map((o) => o.label))}, subtitles ${JSON.stringify(s.menus.subs.map((o) => o.label))}, quality ${JSON.stringify(s.menus.quality.map((o) => o.label))}`);
    info(`media info: ${s.summary}`);
    for (const r of s.infoRows) info(`  track ${r.join(' | ')}`);
    const langs = s.hls.audioTracks.map((t) => t.lang).sort().join(',');
    if (langs !== 'en,es,fr') throw new Fail(`hls.js audio tracks ${JSON.stringify(s.hls.audioTracks)}, expected en, es and fr (RFC 5646) (AC-3/E-AC-3 served as AAC: hls_transcode browser_safe)`);
    if (s.menus.audio.length !== s.hls.audioTracks.length) throw new Fail(`audio menu has ${s.menus.audio.length} entries for ${s.hls.audioTracks.length} tracks`);
    if (s.menus.subs.length !== 3 || !/off/i.test(s.menus.subs[0].label)) throw new Fail(`subtitle menu ${JSON.stringify(s.menus.subs)}, expected Off + English + Français`);
    if (s.menus.quality.length < 2 || !/auto/i.test(s.menus.quality[0].label)) throw new Fail(`quality menu ${JSON.stringify(s.menus.quality)}, expected Auto + the levels`);
    if (!s.menus.quality.some((o) => o.label.includes('360p'))) throw new Fail('quality menu does not show 360p');
    const rend = s.infoRows.map((r) => r[0]).join(',');
    if (rend !== '0,1,2,3,4,5') throw new Fail(`media info shows tracks ${rend}, expected 0,1,2,3,4,5`);
    // hls_transcode browser_safe: the AC-3 and E-AC-3 tracks are served as AAC, and say so.
    for (const i of [2, 3]) {
      if (!/AAC made from track/.test(s.infoRows[i][5])) throw new Fail(`track ${i} "served as" says ${JSON.stringify(s.infoRows[i][5])}, expected AAC made from it`);
    }
    const codecs = s.infoRows.map((r) => r[2]).join(' ');
    for (const c of ['h264', 'avc1.64001e', 'aac', 'ac3', 'eac3', 'subrip', 'ass']) {
      if (!codecs.includes(c)) throw new Fail(`media info codecs "${codecs}" lack ${c}`);
    }
    if (!/duration\s+0:20/.test(s.summary)) throw new Fail(`media info summary "${s.summary}" does not say the 20 s duration`);
  });

  // 3. plays ------------------------------------------------------------------------------------
  let plays = false;
  if (!multi) skip('multi_audio.mkv: plays (time advances, frames decoded, English AAC heard)', 'menus');
  else plays = await check('multi_audio.mkv: plays (time advances, frames decoded, English AAC heard)', async () => {
    await page.evaluate(() => window.libhls.video.play().catch(() => {}));
    await waitUntil('currentTime > 2 s', () => window.libhls.video.currentTime > 2, null, 15_000);
    const s = await pstate();
    info(`playing: currentTime ${fmt(s.currentTime)}, ${s.frames} frames decoded (${s.corrupted} corrupted), ${s.videoWidth} px wide, ${s.audioBytes} audio bytes decoded`);
    if (!(s.frames > 0)) throw new Fail(`getVideoPlaybackQuality().totalVideoFrames is ${s.frames}`);
    if (s.corrupted > 0) throw new Fail(`${s.corrupted} corrupted frames`);
    if (s.videoWidth !== 640) throw new Fail(`videoWidth ${s.videoWidth}, expected 640`);
    const at = s.hls.audioTracks[s.hls.audioTrack];
    if (!at || at.lang !== 'en') throw new Fail(`audio track ${JSON.stringify(at)}, expected English first`);
    if (s.audioBytes !== null && !(s.audioBytes > 0)) throw new Fail('no audio decoded');
    if (s.menus.audio.find((o) => o.value === String(s.hls.audioTrack)) === undefined) throw new Fail('the audio menu does not show the playing track');
  });

  // 4. seek ------------------------------------------------------------------------------------
  if (!plays) skip('multi_audio.mkv: seek to 12.5 s resumes playback', 'plays');
  else await check('multi_audio.mkv: seek to 12.5 s resumes playback', async () => {
    const f0 = (await pstate()).frames;
    await seek(12.5);
    await waitAdvance(1.0, 8_000, 'playback to go on 1 s after the seek');
    const s = await pstate();
    if (!(s.frames > f0)) throw new Fail(`no new frame decoded after the seek (${f0} -> ${s.frames})`);
    info(`seek: now at ${fmt(s.currentTime)}, ${s.frames} frames decoded`);
  });

  // 5. audio switch through the menu -------------------------------------------------------------
  if (!plays) skip('multi_audio.mkv: the audio menu switches to French (its segments fetched and decoded)', 'plays');
  else await check('multi_audio.mkv: the audio menu switches to French (its segments fetched and decoded)', async () => {
    const s0 = await pstate();
    const fre = s0.hls.audioTracks.find((t) => t.lang === 'fr');
    const prefix = fre.url.split('/').pop().replace(/\.m3u8$/, '_');
    await seek(2.0);
    const n0 = responses.length;
    const bytes0 = s0.audioBytes;
    await page.selectOption('#audio', String(fre.id));
    await waitUntil('hls.js to switch to the French track', (id) => window.libhls.hls.audioTrack === id, fre.id, 5_000);
    await waitAdvance(2.0, 10_000, 'playback to go on 2 s with French audio');
    const fetched = responses.slice(n0).filter((r) => r.url.split('/').pop().startsWith(prefix) && r.url.endsWith('.m4s'));
    const bad = fetched.filter((r) => r.status !== 200);
    const s = await pstate();
    info(`audio switch: now "${s.hls.audioTracks[s.hls.audioTrack].name}" (${fre.url.split('/').pop()}), fetched ${fetched.map((r) => `${r.url.split('/').pop()} ${r.status}`).join(', ')}; audio bytes decoded ${bytes0} -> ${s.audioBytes}`);
    if (!fetched.length) throw new Fail(`no ${prefix}*.m4s segment was fetched after choosing French`);
    if (bad.length) throw new Fail(`French segments answered ${bad.map((r) => r.status).join(', ')}`);
    if (s.audioBytes !== null && !(s.audioBytes > bytes0)) throw new Fail('no more audio decoded after the switch');
    if ((await page.$eval('#audio', (e) => e.value)) !== String(fre.id)) throw new Fail('the audio menu does not show French');
  });

  // 6. subtitles through the menu --------------------------------------------------------------
  if (!plays) skip('multi_audio.mkv: the subtitle menu shows English cues at 5.5 s', 'plays');
  else await check('multi_audio.mkv: the subtitle menu shows English cues at 5.5 s', async () => {
    await page.evaluate(() => window.libhls.video.pause());
    const s0 = await pstate();
    const eng = s0.hls.subtitleTracks.find((t) => t.lang === 'en');
    await page.selectOption('#subs', String(eng.id));
    await seek(5.5);
    await waitUntil('an active English cue', () => Array.from(window.libhls.video.textTracks).some((t) =>
      t.mode === 'showing' && t.language === 'en' && t.activeCues && Array.from(t.activeCues).some((c) => c.text.includes('spans the 6 second boundary'))), null, 10_000);
    const cue = await page.evaluate(() => {
      const t = Array.from(window.libhls.video.textTracks).find((x) => x.mode === 'showing' && x.language === 'en');
      const c = Array.from(t.activeCues)[0];
      return { start: c.startTime, end: c.endTime, text: c.text };
    });
    info(`subtitles: active cue ${fmt(cue.start)} --> ${fmt(cue.end)} ${JSON.stringify(cue.text)}`);
    if (Math.abs(cue.start - 5.021) > 0.1) throw new Fail(`cue starts at ${fmt(cue.start)}, expected 5.021`);
    if ((await page.$eval('#subs', (e) => e.value)) !== String(eng.id)) throw new Fail('the subtitle menu does not show English');
  });

  // 7. h264_aac.mp4 -----------------------------------------------------------------------------
  if (!listed) skip('h264_aac.mp4: chosen in the list, plays, seeks to 20 s', 'the list');
  else await check('h264_aac.mp4: chosen in the list, plays, seeks to 20 s', async () => {
    await openFromList('h264_aac.mp4');
    await page.evaluate(() => window.libhls.video.play().catch(() => {}));
    await waitUntil('currentTime > 1.5 s', () => window.libhls.video.currentTime > 1.5, null, 15_000);
    await seek(20);
    await waitAdvance(1.0, 8_000, 'playback to go on 1 s after seeking to 20 s');
    await waitUntil('media info table', () => document.querySelectorAll('#tracks tbody tr').length > 0, null, 5_000);
    const s = await pstate();
    info(`h264_aac.mp4: currentTime ${fmt(s.currentTime)}, duration ${fmt(s.duration)}, ${s.frames} frames, menus audio ${s.menus.audio.length} / subtitles ${s.menus.subs.length} / quality ${s.menus.quality.length}; info: ${s.summary}`);
    if (!(s.frames > 0)) throw new Fail('no video frame decoded');
    if (Math.abs(s.duration - 30) > 0.5) throw new Fail(`duration ${fmt(s.duration)}, expected ~30 s`);
    if (s.infoRows.length !== 2) throw new Fail(`media info shows ${s.infoRows.length} tracks, expected 2`);
    if (s.menus.quality.length < 2) throw new Fail('quality menu empty');
  });

  // 8. a sub-folder and an awkward file name -------------------------------------------------
  const sub = 'sub dir é';
  const awkward = 'film été #1 & co.mp4';
  if (!listed) skip(`"${sub}/${awkward}": opened through the list, plays`, 'the list');
  else await check(`"${sub}/${awkward}": opened through the list, plays`, async () => {
    await page.goto(`${BASE}/`);
    await page.click(`#list a.dir[data-name="${sub}"]`);
    await page.waitForSelector(`#list a.file[data-name="${awkward}"]`, { timeout: 5_000 });
    const crumbs = await page.$eval('#crumbs', (e) => e.textContent);
    if (!crumbs.includes(sub)) throw new Fail(`breadcrumbs "${crumbs}" do not name the sub-folder`);
    await page.click(`#list a.file[data-name="${awkward}"]`);
    await waitUntil('master playlist parsed', () => window.libhls.hls && window.libhls.hls.levels.length > 0, null, 15_000);
    await page.evaluate(() => window.libhls.video.play().catch(() => {}));
    await waitUntil('currentTime > 1 s', () => window.libhls.video.currentTime > 1, null, 15_000);
    const s = await pstate();
    if (s.file !== `${sub}/${awkward}`) throw new Fail(`page plays ${JSON.stringify(s.file)}`);
    if (!(s.frames > 0)) throw new Fail('no video frame decoded');
    info(`sub-folder: ${page.url()} plays, ${s.frames} frames`);
  });

  // 9. MP3, which Chromium's MSE refuses in MP4, served as AAC (browser_safe) ----------------
  await check('audio_only.mp3: plays (its MP3 served as AAC)', async () => {
    await page.goto(`${BASE}/?file=audio_only.mp3`);
    await waitUntil('master playlist parsed', () => window.libhls && window.libhls.hls && window.libhls.hls.levels.length > 0, null, 15_000);
    await page.evaluate(() => window.libhls.video.play().catch(() => {}));
    await waitUntil('currentTime > 1 s', () => window.libhls.video.currentTime > 1, null, 15_000);
    const s = await pstate();
    if (s.audioBytes !== null && !(s.audioBytes > 0)) throw new Fail('no audio decoded');
    info(`audio_only.mp3: currentTime ${fmt(s.currentTime)}, ${s.audioBytes} audio bytes decoded; media info: ${s.infoRows.map((r) => r.slice(1, 3).join(' ') + ' -> ' + r[5]).join('; ')}`);
  });

  // 10. a fatal hls.js error is shown: HEVC where MSE has no HEVC decoder ----------------------
  await check('hevc_aac.mp4: plays, or the page says the browser cannot play it', async () => {
    const hevc = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L63.90"'));
    await page.goto(`${BASE}/?file=hevc_aac.mp4`);
    if (hevc) {
      await page.evaluate(() => window.libhls.video.play().catch(() => {}));
      await waitUntil('currentTime > 1 s', () => window.libhls.video.currentTime > 1, null, 15_000);
      info('hevc_aac.mp4: this browser decodes HEVC, and plays it');
      return;
    }
    await page.waitForFunction(() => window.libhls && window.libhls.state.errors.length > 0, null, { timeout: 10_000 });
    const box = await page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
    info(`hevc_aac.mp4: no HEVC in this browser's MSE; the page says "${box.trim()}"`);
    if (!/cannot play/.test(box) || !/hvc1/.test(box)) throw new Fail(`error box "${box}" does not say the browser cannot play hvc1`);
  });

  // 11. errors on the page --------------------------------------------------------------------
  await check('a file libhls refuses and a missing file show their HTTP status on the page', async () => {
    for (const [file, re] of [['text.mp4', /HTTP 4(15|22)/], ['no-such-file.mp4', /HTTP 404/]]) {
      await page.goto(`${BASE}/?file=${encodeURIComponent(file)}`);
      await page.waitForFunction(() => window.libhls && window.libhls.state.errors.length > 0, null, { timeout: 10_000 });
      const box = await page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
      info(`${file}: the page says "${box.trim()}"`);
      if (!re.test(box)) throw new Fail(`${file}: error box "${box}" does not match ${re}`);
    }
  });

  await check('nothing was fetched from outside the nginx origin', async () => {
    if (external.length) throw new Fail(`${external.length} external requests: ${external.slice(0, 5).join(', ')}`);
  });
  clearTimeout(watchdog);
}

async function finish() {
  console.log(`nginx browser: ${passed} passed, ${failed} failed`);
  const c = context;
  context = null;
  if (c) await c.close().catch(() => {});
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  process.exit(failed > 0 ? 1 : 0);
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`not ok - harness: ${String(e && e.message ? e.message : e).split('\n')[0]}`);
}
await finish();

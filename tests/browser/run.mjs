// Real-browser acceptance test of libhls: hls.js in headless Chromium (playwright-core) against a
// running hls-serve.
//
//   node tests/browser/run.mjs <base-url>        e.g. http://127.0.0.1:8080
//
// <base-url> must serve target/media (hls-serve ... target/media). Environment:
//   LIBHLS_NODE_DIR   directory whose node_modules holds hls.js and playwright-core
//                     (default: this directory; tests/browser.rs uses target/browser-node)
//   LIBHLS_CHROMIUM   browser executable (default /usr/bin/chromium)
//   LIBHLS_BROWSER_STRICT_SYNC=0
//                     only warn (instead of failing) when a subtitle cue is more than one frame
//                     (40 ms) off the video frames of its source time
//
// Prints `ok - <check>` / `not ok - <check>: <reason>` (with `# ` diagnostic lines after a failure
// and `# info:` lines for informational values), then `browser: N passed, M failed`; exits 1 if
// any check failed. The page and hls.js are served by request interception under
// <base-url>/__libhls_test/, so nothing is loaded from anywhere but <base-url>.

import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOTAL_BUDGET_MS = 85_000;

if (process.argv.length < 3) {
  console.error('usage: node run.mjs <base-url>');
  process.exit(2);
}
const BASE = process.argv[2].replace(/\/+$/, '');
const NODE_DIR = path.resolve(process.env.LIBHLS_NODE_DIR || HERE);
const CHROMIUM = process.env.LIBHLS_CHROMIUM || '/usr/bin/chromium';
const STRICT_SYNC = process.env.LIBHLS_BROWSER_STRICT_SYNC !== '0';
const require = createRequire(path.join(NODE_DIR, 'package.json'));
const { chromium } = require('playwright-core');
const HLS_JS = require.resolve('hls.js/dist/hls.min.js');
const HLS_VERSION = JSON.parse(readFileSync(require.resolve('hls.js/package.json'), 'utf8')).version;
const PLAYER_URL = `${BASE}/__libhls_test/player.html`;

// ------------------------------------------------------------------------------------------------
// Reporting
// ------------------------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
let finished = false;
const info = (msg) => console.log(`# info: ${msg}`);
const diag = (msg) => { for (const l of String(msg).split('\n')) console.log(`# ${l}`); };

class Fail extends Error {}

function finish() {
  if (finished) return;
  finished = true;
  console.log(`browser: ${passed} passed, ${failed} failed`);
}

let page = null;
let context = null;
let userDataDir = null;

/** Run one named check; `fn` throws (usually a Fail) to fail it. */
async function check(name, fn) {
  if (finished) return;
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    const reason = e instanceof Fail ? e.message : `${e && e.stack ? e.stack : e}`;
    console.log(`not ok - ${name}: ${reason.split('\n')[0]}`);
    if (!(e instanceof Fail) && reason.includes('\n')) diag(reason.split('\n').slice(1).join('\n'));
    await dumpDiagnostics();
  }
}

/** Skip-style failure for checks whose prerequisite failed. */
function failDependent(name, dep) {
  failed++;
  console.log(`not ok - ${name}: not run, it needs "${dep}" which failed`);
}

/** Print the player state, hls.js errors and the last hls.js warnings/errors. */
async function dumpDiagnostics() {
  if (!page) return;
  try {
    const s = await page.evaluate(() => (window.T && T.video ? T.state() : null));
    if (!s) return;
    const { ev, ...rest } = s;
    diag(`source: ${ev.url}`);
    diag(`state: ${JSON.stringify(rest)}`);
    if (ev.playError) diag(`play() rejected: ${ev.playError}`);
    for (const e of ev.errors) {
      diag(`hls.js ERROR: ${JSON.stringify(e)}`);
      if (e.url && e.code >= 400) {
        // hls-serve answers libhls failures with "STATUS: message" as text/plain.
        const body = await page.evaluate((u) => fetch(u).then(r => r.text()).catch(x => `(fetch failed: ${x})`), e.url);
        diag(`  HTTP ${e.code} body: ${body.slice(0, 400).trim()}`);
      }
    }
    for (const e of ev.videoErrors) diag(`<video> error: ${e}`);
    const bad = ev.subtitleFrags.filter(f => !f.success);
    for (const f of bad) diag(`subtitle fragment failed: ${JSON.stringify(f)}`);
    for (const l of ev.log.slice(-25)) diag(`hls.js ${l}`);
  } catch (e) {
    diag(`(could not read page state: ${e.message})`);
  }
}

// ------------------------------------------------------------------------------------------------
// Page helpers
// ------------------------------------------------------------------------------------------------

const state = () => page.evaluate(() => T.state());
const fmt = (x) => (typeof x === 'number' ? x.toFixed(3) : String(x));

/**
 * Wait until `pred(arg)` (evaluated in the page, with `T` in scope) is truthy. Fails early when
 * hls.js reports a fatal error, and with the current position on timeout.
 */
async function waitUntil(desc, pred, arg, timeoutMs) {
  const expr = `(() => {
    if (T.fatal().length) return 'fatal';
    return (${pred.toString()})(${JSON.stringify(arg ?? null)}) ? 'ok' : false;
  })()`;
  let r;
  try {
    r = await (await page.waitForFunction(expr, null, { timeout: timeoutMs, polling: 50 })).jsonValue();
  } catch (e) {
    if (e && e.name === 'TimeoutError') {
      const s = await state().catch(() => null);
      throw new Fail(`timed out after ${timeoutMs / 1000} s waiting for ${desc}` +
        (s ? ` (currentTime ${fmt(s.currentTime)}, readyState ${s.readyState}, buffered ${JSON.stringify(s.buffered)})` : ''));
    }
    throw e;
  }
  if (r === 'fatal') {
    const errs = await page.evaluate(() => T.fatal());
    throw new Fail(`fatal hls.js error while waiting for ${desc}: ${errs.map(e => `${e.details}${e.reason ? ` (${e.reason})` : ''}${e.error ? ` [${e.error}]` : ''}${e.url ? ` ${e.url}` : ''}`).join('; ')}`);
  }
}

async function assertNoFatal(what) {
  const errs = await page.evaluate(() => T.fatal());
  if (errs.length) {
    throw new Fail(`fatal hls.js error ${what}: ${errs.map(e => `${e.details} ${e.error || ''} ${e.url || ''}`).join('; ')}`);
  }
}

/** Non-fatal hls.js errors seen since the last call, printed as information. */
let reportedErrors = 0;
async function reportNonFatal(label) {
  const errs = await page.evaluate(() => T.ev.errors);
  for (const e of errs.slice(reportedErrors)) {
    if (!e.fatal) info(`${label}: non-fatal hls.js error ${e.details}${e.reason ? ` (${e.reason})` : ''}${e.error ? ` [${e.error}]` : ''}${e.url ? ` ${e.url}` : ''}`);
  }
  reportedErrors = errs.length;
}

async function load(file) {
  reportedErrors = 0;
  await page.evaluate((u) => T.load(u), `${BASE}/${encodeURIComponent(file)}/master.m3u8`);
}

const play = () => page.evaluate(() => { T.video.play().catch(e => { T.ev.playError = String(e); }); });
const pause = () => page.evaluate(() => T.video.pause());

/** Seek and wait until the seek completed (seeked fired, not seeking). */
async function seek(t, timeoutMs = 10_000) {
  const before = await page.evaluate((to) => { const n = T.ev.seeked; T.video.currentTime = to; return n; }, t);
  await waitUntil(`seek to ${t} s to complete`, (a) => T.ev.seeked > a && !T.video.seeking, before, timeoutMs);
}

/** Wait until currentTime advanced by `by` seconds from where it is now (playback not stuck). */
async function waitAdvance(by, timeoutMs, desc) {
  const from = await page.evaluate(() => T.video.currentTime);
  await waitUntil(desc || `currentTime to advance ${by} s past ${fmt(from)}`,
    (a) => !T.video.paused && T.video.currentTime >= a.from + a.by, { from, by }, timeoutMs);
  return from;
}

/** Wait for an active cue of the `lang` TextTrack whose rendered text contains `text`. */
async function waitActiveCue(lang, text, timeoutMs) {
  await waitUntil(`an active ${lang} cue containing "${text}"`,
    (a) => (T.cues(a.lang) || []).some(c => c.active && c.shown.includes(a.text)), { lang, text }, timeoutMs);
  const cues = (await page.evaluate((l) => T.cues(l), lang)).filter(c => c.shown.includes(text));
  return cues;
}

const near = (a, b, tol) => Math.abs(a - b) <= tol;

/** Start of the first buffered range of the SourceBuffer whose MIME type starts with `kind`. */
function sbStart(s, kind) {
  const sb = s.sourceBuffers.find(x => x.type.startsWith(kind));
  return sb && sb.buffered && sb.buffered.length ? sb.buffered[0][0] : null;
}
/**
 * Reports how far a cue is from the video frames of its source time (`rel`: cue start minus the
 * first video frame, `want`: the same in the source); with LIBHLS_BROWSER_STRICT_SYNC, fails
 * beyond one frame.
 */
function syncReport(label, rel, want) {
  const off = rel - want;
  const bad = Math.abs(off) > 0.04;
  info(`${label}: cue starts ${fmt(rel)} s after the first video frame (source: ${fmt(want)} s), ` +
    `subtitle-vs-video offset ${(off * 1000).toFixed(0)} ms${bad ? ' -- WARNING: more than one frame (40 ms)' : ''}`);
  if (bad && STRICT_SYNC) throw new Fail(`${label}: subtitles ${(off * 1000).toFixed(0)} ms off the video (LIBHLS_BROWSER_STRICT_SYNC)`);
}
const sbSummary = (s) => s.sourceBuffers.map(x => `${x.type} ${JSON.stringify(x.buffered)} (timestampOffset ${x.timestampOffset})`).join('; ');

// ------------------------------------------------------------------------------------------------
// Scenarios
// ------------------------------------------------------------------------------------------------

async function main() {
  const watchdog = setTimeout(async () => {
    failed++;
    console.log(`not ok - total time budget: the run did not finish within ${TOTAL_BUDGET_MS / 1000} s`);
    await dumpDiagnostics();
    finish();
    cleanup();
    process.exit(1);
  }, TOTAL_BUDGET_MS);

  info(`hls.js ${HLS_VERSION}, browser ${CHROMIUM}, server ${BASE}`);
  userDataDir = mkdtempSync(path.join(tmpdir(), 'libhls-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  info(`chromium ${context.browser()?.version() ?? '(version unknown)'}`);

  // Serve the test page and hls.js under the server's origin; record anything else.
  const external = [];
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${BASE}/`) && !u.startsWith('data:') && !u.startsWith('blob:')) external.push(u);
  });
  await context.route(`${BASE}/__libhls_test/player.html`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: readFileSync(path.join(HERE, 'player.html')) }));
  await context.route(`${BASE}/__libhls_test/hls.min.js`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body: readFileSync(HLS_JS) }));

  page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => diag(`page error: ${e.message}`));
  page.setDefaultTimeout(15_000);

  let pageOk = false;
  await check('player page loads with hls.js and MSE', async () => {
    await page.goto(PLAYER_URL, { timeout: 15_000 });
    const r = await page.evaluate(() => ({ t: typeof window.T, hls: typeof Hls, supported: typeof Hls !== 'undefined' && Hls.isSupported() }));
    if (r.t !== 'object' || r.hls !== 'function') throw new Fail(`page not initialised: ${JSON.stringify(r)}`);
    if (!r.supported) throw new Fail('Hls.isSupported() is false (no MSE?)');
    const codecs = await page.evaluate(() => Object.fromEntries(['video/mp4; codecs="avc1.64001e"', 'audio/mp4; codecs="mp4a.40.2"',
      'audio/mp4; codecs="ac-3"', 'audio/mp4; codecs="ec-3"'].map(t => [t, MediaSource.isTypeSupported(t)])));
    info(`MediaSource.isTypeSupported: ${JSON.stringify(codecs)}`);
    pageOk = true;
  });
  if (!pageOk) {
    for (const n of ['multi_audio.mkv', 'seek', 'subtitles', 'offset_start.mkv', 'subs.mp4', 'h264_aac.mp4', 'ac3_51.mp4', 'audio_only.m4a']) failDependent(n, 'player page loads with hls.js and MSE');
    return;
  }

  // 1. multi_audio.mkv -------------------------------------------------------------------------
  let multiOk = false;
  let multiVideoStart = null;
  await check('multi_audio.mkv: master parsed (levels, 3 audio tracks in every group, 2 subtitle tracks)', async () => {
    await load('multi_audio.mkv');
    await waitUntil('MANIFEST_PARSED', () => T.ev.manifestParsed, null, 10_000);
    const { manifestLoaded: ml, manifestParsed: mp } = (await state()).ev;
    info(`multi_audio.mkv: master: ${ml.levels} variants, audio ${JSON.stringify(ml.audioTracks)}, subtitles ${JSON.stringify(ml.subtitles)}`);
    info(`multi_audio.mkv: after hls.js codec filtering: levels ${JSON.stringify(mp.levels)}, audio tracks ${JSON.stringify(mp.audioTracks)}`);
    if (mp.levels.length < 1) throw new Fail('no playable level');
    // Every AUDIO group holds every language (RFC 8216 4.3.4.1.1): 3 names, each in every group.
    const names = [...new Set(ml.audioTracks.map(t => t.name))];
    const groups = [...new Set(ml.audioTracks.map(t => t.groupId))];
    if (names.length !== 3) throw new Fail(`master lists ${names.length} audio track names (${names.join(', ')}), expected 3`);
    if (ml.audioTracks.length !== names.length * groups.length) throw new Fail(`${ml.audioTracks.length} audio renditions for ${names.length} names in ${groups.length} groups: not every group holds every language`);
    if (ml.subtitles.length !== 2) throw new Fail(`master lists ${ml.subtitles.length} subtitle tracks, expected 2`);
    if (mp.subtitleTracks.length !== 2) throw new Fail(`MANIFEST_PARSED lists ${mp.subtitleTracks.length} subtitle tracks, expected 2`);
    const langs = [...new Set(ml.audioTracks.map(t => t.lang))].sort().join(',');
    if (langs !== 'en,es,fr') throw new Fail(`audio languages ${langs}, expected en,es,fr (RFC 5646)`);
    // hls.js drops audio renditions whose codec MSE rejects (AC-3/E-AC-3 in Chromium): they must be
    // exactly those, and the AAC one must survive.
    const dropped = ml.audioTracks.filter(t => !mp.audioTracks.some(p => p.name === t.name && p.groupId === t.groupId));
    for (const t of dropped) {
      const ok = t.audioCodec && !(await page.evaluate((c) => MediaSource.isTypeSupported(`audio/mp4; codecs="${c}"`), t.audioCodec));
      if (!ok) throw new Fail(`hls.js dropped audio track ${JSON.stringify(t)} although its codec is supported`);
    }
    for (const lang of ['en', 'fr', 'es']) {
      if (!mp.audioTracks.some(t => t.lang === lang && /^mp4a/.test(t.audioCodec || 'mp4a'))) throw new Fail(`AAC ${lang} audio track missing after codec filtering`);
    }
    if (dropped.length) info(`multi_audio.mkv: audio tracks unplayable in this browser (codec unsupported by MSE): ${dropped.map(t => `${t.name} (${t.audioCodec})`).join(', ')}`);
  });
  await check('multi_audio.mkv: plays past 3 s with AAC audio, 640 px wide', async () => {
    await play();
    await waitUntil('currentTime > 3 s', () => T.video.currentTime > 3, null, 15_000);
    await assertNoFatal('during playback');
    const s = await state();
    if (s.videoWidth !== 640) throw new Fail(`videoWidth ${s.videoWidth}, expected 640`);
    const at = s.audioTracks[s.audioTrack];
    if (!at || at.lang !== 'en') throw new Fail(`selected audio track ${JSON.stringify(at)} (index ${s.audioTrack}), expected the default English AAC track`);
    if (s.audioDecodedBytes !== null && !(s.audioDecodedBytes > 0)) throw new Fail(`no audio decoded (webkitAudioDecodedByteCount ${s.audioDecodedBytes})`);
    if (s.mediaError) throw new Fail(`media element error: ${s.mediaError}`);
    info(`multi_audio.mkv: first 'playing' at ${fmt(s.ev.firstPlayingTime)}, buffered ${JSON.stringify(s.buffered)}, duration ${fmt(s.duration)}, audio track "${at.name}" (${at.groupId}), ${s.audioDecodedBytes} audio bytes decoded`);
    info(`multi_audio.mkv: SourceBuffers: ${sbSummary(s)} (source: video from 0.021 s, AAC from 0.000 s)`);
    multiVideoStart = sbStart(s, 'video');
    await reportNonFatal('multi_audio.mkv');
    multiOk = true;
  });

  // 2. Seek ------------------------------------------------------------------------------------
  if (!multiOk) failDependent('multi_audio.mkv: seek to 12.5 s resumes playback', 'multi_audio.mkv plays');
  else await check('multi_audio.mkv: seek to 12.5 s resumes playback', async () => {
    await seek(12.5);
    const t = await page.evaluate(() => T.video.currentTime);
    if (t < 12.49) throw new Fail(`currentTime ${fmt(t)} after seeking to 12.5`);
    await waitAdvance(1.0, 8_000, 'playback to continue for 1 s after the seek');
    await assertNoFatal('after the seek');
    const s = await state();
    info(`seek: resumed at ${fmt(t)}, now ${fmt(s.currentTime)}, buffered ${JSON.stringify(s.buffered)}`);
    await reportNonFatal('seek');
  });

  // 3. Subtitles -------------------------------------------------------------------------------
  if (!multiOk) failDependent('multi_audio.mkv: English subtitles at 5.5 s and 9.5 s', 'multi_audio.mkv plays');
  else await check('multi_audio.mkv: English subtitles at 5.5 s and 9.5 s', async () => {
    await pause();
    const sel = await page.evaluate(() => T.selectSubtitles('en'));
    if (sel.error) throw new Fail(sel.error);
    await seek(5.5);
    let cues = await waitActiveCue('en', 'spans the 6 second boundary', 10_000);
    let c = cues.find(x => x.active);
    info(`subtitles: cue ${fmt(c.start)} --> ${fmt(c.end)} ${JSON.stringify(c.text)} (rendered ${JSON.stringify(c.shown)})`);
    if (cues.length > 1) info(`subtitles: ${cues.length} cues with that text: ${JSON.stringify(cues.map(x => [x.start, x.end]))}`);
    if (!near(c.start, 5.021, 0.1) || !near(c.end, 7.521, 0.1)) {
      throw new Fail(`cue "spans the 6 second boundary" is ${fmt(c.start)}-${fmt(c.end)}, expected 5.021-7.521 (+-0.1)`);
    }
    if (multiVideoStart !== null) {
      // Source: video from 0.021 s, cue from 5.021 s, i.e. 5.000 s into the video.
      syncReport('subtitles', c.start - multiVideoStart, 5.0);
    }
    if (!c.shown.includes('and has a second line in italics')) throw new Fail(`second line missing: ${JSON.stringify(c.text)}`);
    await seek(9.5);
    cues = await waitActiveCue('en', 'Fish & chips', 10_000);
    c = cues.find(x => x.active);
    info(`subtitles: cue ${fmt(c.start)} --> ${fmt(c.end)} ${JSON.stringify(c.text)} (rendered ${JSON.stringify(c.shown)})`);
    if (!c.shown.includes('Fish & chips < 5 pounds')) throw new Fail(`rendered cue text ${JSON.stringify(c.shown)}, expected "Fish & chips < 5 pounds"`);
    if (!near(c.start, 9.021, 0.1) || !near(c.end, 11.021, 0.1)) {
      throw new Fail(`cue "Fish & chips" is ${fmt(c.start)}-${fmt(c.end)}, expected 9.021-11.021 (+-0.1)`);
    }
    const all = await page.evaluate(() => T.cues('en'));
    const active = all.filter(x => x.active);
    if (active.length !== 1) throw new Fail(`${active.length} active cues at 9.5 s: ${JSON.stringify(active)}`);
    await assertNoFatal('with subtitles on');
    await reportNonFatal('subtitles');
  });

  // 3b. Language switch --------------------------------------------------------------------------
  if (!multiOk) failDependent('multi_audio.mkv: switching to French plays the French AAC rendition', 'multi_audio.mkv plays');
  else await check('multi_audio.mkv: switching to French plays the French AAC rendition', async () => {
    await seek(2.0);
    const idx = await page.evaluate(() => T.hls.audioTracks.findIndex(t => t.lang === 'fr'));
    if (idx < 0) throw new Fail('no French audio track in hls.js');
    const before = await page.evaluate(() => ({ frags: T.ev.frags.length, bytes: T.video.webkitAudioDecodedByteCount }));
    await page.evaluate((i) => { T.hls.audioTrack = i; }, idx);
    await play();
    await waitUntil('a French AAC segment (t2a_K.m4s) to be loaded',
      (a) => T.ev.frags.slice(a).some(f => f.type === 'audio' && /\/t2a_\d+\.m4s$/.test(f.url)), before.frags, 10_000);
    await waitAdvance(1.0, 8_000, 'playback to continue for 1 s after the switch');
    await assertNoFatal('after the language switch');
    const s = await state();
    const at = s.audioTracks[s.audioTrack];
    info(`language switch: audio track now ${JSON.stringify(at)}, ${s.audioDecodedBytes - (before.bytes || 0)} more audio bytes decoded`);
    if (!at || at.lang !== 'fr') throw new Fail(`selected audio track ${JSON.stringify(at)}, expected French`);
    if (s.audioDecodedBytes !== null && !(s.audioDecodedBytes > before.bytes)) throw new Fail('no audio decoded after the switch');
    await pause();
    await reportNonFatal('language switch');
  });

  // 4. offset_start.mkv ----------------------------------------------------------------------
  let offsetOk = false;
  let v0 = null;
  await check('offset_start.mkv: plays', async () => {
    await load('offset_start.mkv');
    await waitUntil('MANIFEST_PARSED', () => T.ev.manifestParsed, null, 10_000);
    await play();
    await waitUntil("'playing'", () => T.ev.firstPlayingTime !== null, null, 10_000);
    await waitAdvance(1.0, 8_000);
    await assertNoFatal('during playback');
    const s = await state();
    v0 = sbStart(s, 'video') ?? s.ev.bufferedStartAtPlay;
    info(`offset_start.mkv: hls.js timeline: first 'playing' at currentTime ${fmt(s.ev.firstPlayingTime)}, ` +
      `video from ${fmt(v0)} (the source's video starts at 10.0 s), duration ${fmt(s.duration)}, buffered ${JSON.stringify(s.buffered)}`);
    info(`offset_start.mkv: SourceBuffers: ${sbSummary(s)} (source: video from 10.000 s, AAC from 9.979 s)`);
    if (v0 === null) throw new Fail('nothing buffered at first playing');
    await reportNonFatal('offset_start.mkv');
    offsetOk = true;
  });
  if (!offsetOk) failDependent('offset_start.mkv: cue "Hello, world!" (source 11.0-13.0 s) is in sync with the video', 'offset_start.mkv: plays');
  else await check('offset_start.mkv: cue "Hello, world!" (source 11.0-13.0 s) is in sync with the video', async () => {
    // Source: video starts at 10.0 s, the cue is 11.0-13.0 s, i.e. 1.0-3.0 s into the video.
    const want = { start: v0 + 1.0, end: v0 + 3.0 };
    await pause();
    const sel = await page.evaluate(() => T.selectSubtitles('en'));
    if (sel.error) throw new Fail(sel.error);
    await seek(v0 + 0.5);
    await waitUntil('the "Hello, world!" cue to be loaded',
      () => (T.cues('en') || []).some(c => c.shown.includes('Hello, world!')), null, 10_000);
    let cues = await page.evaluate(() => T.cues('en').filter(c => c.shown.includes('Hello, world!')));
    const t1 = await page.evaluate(() => T.video.currentTime);
    info(`offset_start.mkv: cue "Hello, world!" at ${cues.map(c => `${fmt(c.start)}-${fmt(c.end)}`).join(', ')}; expected ${fmt(want.start)}-${fmt(want.end)} (video start ${fmt(v0)} + 1.0/3.0 s)`);
    if (cues.some(c => c.active)) throw new Fail(`cue already active at currentTime ${fmt(t1)} (0.5 s into the video, before the cue)`);
    await seek(v0 + 2.0);
    cues = await waitActiveCue('en', 'Hello, world!', 8_000);
    const c = cues.find(x => x.active);
    const t2 = await page.evaluate(() => T.video.currentTime);
    syncReport('offset_start.mkv', c.start - v0, 1.0);
    if (!(c.start <= t2 && t2 < c.end)) throw new Fail(`active cue ${fmt(c.start)}-${fmt(c.end)} does not contain currentTime ${fmt(t2)}`);
    if (!near(c.start, want.start, 0.1) || !near(c.end, want.end, 0.1)) {
      throw new Fail(`cue is ${fmt(c.start)}-${fmt(c.end)} but the video starts at ${fmt(v0)}, expected ${fmt(want.start)}-${fmt(want.end)} (+-0.1)`);
    }
    await seek(v0 + 3.3);
    cues = await page.evaluate(() => T.cues('en').filter(c => c.shown.includes('Hello, world!')));
    if (cues.some(x => x.active)) throw new Fail(`cue still active at ${fmt(v0 + 3.3)}`);
    await assertNoFatal('with subtitles on');
    await reportNonFatal('offset_start.mkv subtitles');
  });

  // 4b. subs.mp4: mov_text subtitles (not in the original list; same source cues as eng.srt) ---
  await check('subs.mp4: mov_text subtitles shown at the source times', async () => {
    await load('subs.mp4');
    await waitUntil('MANIFEST_PARSED', () => T.ev.manifestParsed, null, 10_000);
    await pause();
    const sel = await page.evaluate(() => T.selectSubtitles('en'));
    if (sel.error) throw new Fail(sel.error);
    await seek(1.5);
    let cues = await waitActiveCue('en', 'Hello, world!', 10_000);
    let c = cues.find(x => x.active);
    const s = await state();
    const vs = sbStart(s, 'video');
    info(`subs.mp4: cue "Hello, world!" ${fmt(c.start)} --> ${fmt(c.end)}; SourceBuffers: ${sbSummary(s)} (source: video and cue timeline from 0.000 s)`);
    if (vs !== null) syncReport('subs.mp4', c.start - vs, 1.0);
    if (!near(c.start, 1.0, 0.1) || !near(c.end, 3.0, 0.1)) throw new Fail(`cue "Hello, world!" is ${fmt(c.start)}-${fmt(c.end)}, expected 1.000-3.000 (+-0.1)`);
    await seek(9.5);
    cues = await waitActiveCue('en', 'Fish & chips', 10_000);
    c = cues.find(x => x.active);
    if (!c.shown.includes('Fish & chips < 5 pounds')) throw new Fail(`rendered cue text ${JSON.stringify(c.shown)}, expected "Fish & chips < 5 pounds"`);
    await seek(12.5);
    cues = await waitActiveCue('en', 'caf', 10_000);
    c = cues.find(x => x.active);
    info(`subs.mp4: cue ${fmt(c.start)} --> ${fmt(c.end)} ${JSON.stringify(c.text)} (rendered ${JSON.stringify(c.shown)})`);
    if (!c.shown.includes('Bold, underlined and red café')) throw new Fail(`rendered cue text ${JSON.stringify(c.shown)}, expected "Bold, underlined and red café"`);
    await assertNoFatal('with subtitles on');
    await reportNonFatal('subs.mp4');
  });

  // 5. h264_aac.mp4 to the end ----------------------------------------------------------------
  await check("h264_aac.mp4: plays to the end at 4x, 'ended' fires", async () => {
    await load('h264_aac.mp4');
    await waitUntil('MANIFEST_PARSED', () => T.ev.manifestParsed, null, 10_000);
    await page.evaluate(() => { T.video.defaultPlaybackRate = 4; T.video.playbackRate = 4; });
    const t0 = Date.now();
    await play();
    await waitUntil("'ended'", () => T.ev.ended, null, 25_000);
    const s = await state();
    info(`h264_aac.mp4: ended after ${((Date.now() - t0) / 1000).toFixed(1)} s wall time at currentTime ${fmt(s.currentTime)}, duration ${fmt(s.duration)}, ` +
      `buffered ${JSON.stringify(s.buffered)}, playback quality ${JSON.stringify(s.quality)}, media error ${s.mediaError}, ` +
      `hls.js errors ${s.ev.errors.length}, stalls/'playing' events ${s.ev.playing}`);
    await assertNoFatal('during playback');
    if (!near(s.duration, 30, 0.5)) throw new Fail(`duration ${fmt(s.duration)}, expected ~30 s`);
    if (!near(s.currentTime, s.duration, 0.5)) throw new Fail(`ended at ${fmt(s.currentTime)} of ${fmt(s.duration)}`);
    if (s.mediaError) throw new Fail(`media element error: ${s.mediaError}`);
    if (s.quality && s.quality.corrupted > 0) throw new Fail(`${s.quality.corrupted} corrupted video frames`);
    await reportNonFatal('h264_aac.mp4');
  });

  // 6. mkvmerge's Matroska (laced AAC split from its blocks, indexed from the Cues) to the end --
  await check("mkvmerge_multi.mkv: plays to the end at 4x with audio, 'ended' fires", async () => {
    await load('mkvmerge_multi.mkv');
    await waitUntil('MANIFEST_PARSED', () => T.ev.manifestParsed, null, 10_000);
    await page.evaluate(() => { T.video.defaultPlaybackRate = 4; T.video.playbackRate = 4; });
    await play();
    await waitUntil("'ended'", () => T.ev.ended, null, 25_000);
    const s = await state();
    info(`mkvmerge_multi.mkv: ended at ${fmt(s.currentTime)} of ${fmt(s.duration)}, ${s.audioDecodedBytes} audio bytes decoded, ` +
      `playback quality ${JSON.stringify(s.quality)}`);
    await assertNoFatal('during playback');
    if (!near(s.duration, 20, 0.5)) throw new Fail(`duration ${fmt(s.duration)}, expected ~20 s`);
    if (!near(s.currentTime, s.duration, 0.5)) throw new Fail(`ended at ${fmt(s.currentTime)} of ${fmt(s.duration)}`);
    if (s.audioDecodedBytes !== null && !(s.audioDecodedBytes > 0)) throw new Fail(`no audio decoded (webkitAudioDecodedByteCount ${s.audioDecodedBytes})`);
    if (s.mediaError) throw new Fail(`media element error: ${s.mediaError}`);
    if (s.quality && s.quality.corrupted > 0) throw new Fail(`${s.quality.corrupted} corrupted video frames`);
    await reportNonFatal('mkvmerge_multi.mkv');
  });

  // 6b. An AC-3-only film: sound in Chromium through the default AAC rendition -----------------
  await check('ac3_51.mp4: an AC-3-only film plays with sound (AAC rendition by default)', async () => {
    await load('ac3_51.mp4');
    await waitUntil('MANIFEST_PARSED', () => T.ev.manifestParsed, null, 10_000);
    const mp = (await state()).ev.manifestParsed;
    info(`ac3_51.mp4: after hls.js codec filtering: levels ${JSON.stringify(mp.levels)}, audio tracks ${JSON.stringify(mp.audioTracks)}`);
    await play();
    await waitUntil('currentTime > 3 s', () => T.video.currentTime > 3, null, 15_000);
    await assertNoFatal('during playback');
    const s = await state();
    const audioSb = s.sourceBuffers.find(x => x.type.startsWith('audio'));
    info(`ac3_51.mp4: ${s.audioDecodedBytes} audio bytes decoded, SourceBuffers: ${sbSummary(s)}`);
    if (!audioSb) throw new Fail(`no audio SourceBuffer (${sbSummary(s)}): the film plays silent`);
    if (!/mp4a/.test(audioSb.type)) throw new Fail(`audio SourceBuffer is ${audioSb.type}, expected AAC`);
    if (!audioSb.buffered || !audioSb.buffered.length || audioSb.buffered[0][1] < 3) throw new Fail(`audio buffered ${JSON.stringify(audioSb.buffered)}: not 3 s of sound`);
    if (s.audioDecodedBytes !== null && !(s.audioDecodedBytes > 0)) throw new Fail(`no audio decoded (webkitAudioDecodedByteCount ${s.audioDecodedBytes})`);
    if (s.mediaError) throw new Fail(`media element error: ${s.mediaError}`);
    await reportNonFatal('ac3_51.mp4');
  });

  // 7. Audio only ------------------------------------------------------------------------------
  await check('audio_only.m4a: plays', async () => {
    await load('audio_only.m4a');
    await waitUntil('MANIFEST_PARSED', () => T.ev.manifestParsed, null, 10_000);
    await play();
    await waitUntil("'playing'", () => T.ev.firstPlayingTime !== null, null, 10_000);
    await waitAdvance(1.5, 8_000);
    await assertNoFatal('during playback');
    const s = await state();
    if (s.audioDecodedBytes !== null && !(s.audioDecodedBytes > 0)) throw new Fail(`no audio decoded (webkitAudioDecodedByteCount ${s.audioDecodedBytes})`);
    info(`audio_only.m4a: currentTime ${fmt(s.currentTime)}, duration ${fmt(s.duration)}, videoWidth ${s.videoWidth}, ${s.audioDecodedBytes} audio bytes decoded`);
    await reportNonFatal('audio_only.m4a');
  });

  await check('no request left the server origin', async () => {
    if (external.length) throw new Fail(`${external.length} external requests: ${external.slice(0, 5).join(', ')}`);
  });

  clearTimeout(watchdog);
}

function cleanup() {
  const c = context;
  context = null;
  const p = c ? c.close().catch(() => {}) : Promise.resolve();
  return p.finally(() => { if (userDataDir) rmSync(userDataDir, { recursive: true, force: true }); });
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`not ok - harness: ${String(e && e.message ? e.message : e).split('\n')[0]}`);
  if (e && e.stack) diag(e.stack);
}
await cleanup();
finish();
process.exit(failed > 0 ? 1 : 0);

// Three MSE players in headless Chromium (playwright-core) against a running hls-serve:
// hls.js, Shaka Player and video.js/VHS, driven through one adapter (page.html).
//
//   node tests/players/players.mjs <base-url> <media-dir>
//
// <base-url> serves <media-dir> (target/media). Environment:
//   LIBHLS_NODE_DIR       directory whose node_modules holds the players and playwright-core
//                         (tests/players.rs uses target/browser-node)
//   LIBHLS_CHROMIUM       browser executable (default /usr/bin/chromium)
//   LIBHLS_PLAYERS_ONLY   run only the checks whose name contains this string
//
// Checks (TAP-like `ok - …` / `not ok - …: reason`, `# ` diagnostics, then
// `chromium players: N passed, M failed`; exit 1 if any failed):
// - every CODECS string in the masters of the test files passes MediaSource.isTypeSupported,
//   except the codecs this Chromium does not decode (NOT_DECODED, each asserted to be refused);
// - for each player, on multi_audio.mkv, multi_audio.mp4 and mkvmerge_subs.mkv: it plays with
//   picture and English sound (the English test tones are heard through Web Audio); switching
//   to French fetches the French rendition's segments and the French tones are heard; every
//   English subtitle cue of the source is shown (Matroska files);
// - for each player, on the open-GOP files: after a seek into any segment, playback goes on
//   without a decode error.
// The page and the players' scripts are served by request interception under
// <base-url>/__libhls_players/, so nothing is loaded from anywhere but <base-url>.

import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOTAL_BUDGET_MS = 170_000;
if (process.argv.length < 4) {
  console.error('usage: node players.mjs <base-url> <media-dir>');
  process.exit(2);
}
const BASE = process.argv[2].replace(/\/+$/, '');
const MEDIA_DIR = process.argv[3];
const NODE_DIR = path.resolve(process.env.LIBHLS_NODE_DIR || path.join(HERE, '../browser'));
const CHROMIUM = process.env.LIBHLS_CHROMIUM || '/usr/bin/chromium';
const ONLY = process.env.LIBHLS_PLAYERS_ONLY || '';
const require = createRequire(path.join(NODE_DIR, 'package.json'));
const { chromium } = require('playwright-core');
const version = (p) => JSON.parse(readFileSync(require.resolve(`${p}/package.json`), 'utf8')).version;
const PREFIX = `${BASE}/__libhls_players`;
const SCRIPTS = {
  'hls.min.js': require.resolve('hls.js/dist/hls.min.js'),
  'shaka-player.compiled.js': require.resolve('shaka-player/dist/shaka-player.compiled.js'),
  'video.min.js': require.resolve('video.js/dist/video.min.js'),
};
const PLAYERS = ['hls.js', 'shaka', 'vhs'];
const PLAYER_NAME = { 'hls.js': 'hls.js', shaka: 'Shaka Player', vhs: 'video.js/VHS' };
// Codecs that this Chromium does not decode through MSE, each asserted to be refused (so the list
// must shrink when a Chromium learns one):
// - AC-3 and E-AC-3 (Dolby: never in Chromium);
// - HEVC: only through a platform (hardware) decoder, which headless Chromium on Linux has not;
// - MP3 in MP4 (mp4a.69 / mp4a.6B, and mp4a.40.34): Chromium's MSE takes MP3 only as audio/mpeg
//   (measured with Chromium 156: every audio/mp4 MP3 string is refused).
const NOT_DECODED = [
  { re: /^(ac-3|ec-3)$/, why: 'Dolby AC-3/E-AC-3' },
  { re: /^(hvc1|hev1)\./, why: 'HEVC needs a platform decoder' },
  { re: /^mp4a\.(69|6B|6b|40\.34)$/, why: 'MP3 in MP4: MSE takes MP3 only as audio/mpeg' },
];
const notDecoded = (codec) => NOT_DECODED.find((n) => n.re.test(codec));
const SOURCE_CUES = 5; // cues of src/eng.srt

let passed = 0;
let failed = 0;
const info = (msg) => console.log(`# info: ${msg}`);
const diag = (msg) => { for (const l of String(msg).split('\n')) console.log(`# ${l}`); };
class Fail extends Error {}
let page = null;
let context = null;
let userDataDir = null;
const requests = []; // {t, url}

async function check(name, fn) {
  if (ONLY && !name.includes(ONLY)) return;
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    const reason = e instanceof Fail ? e.message : `${e && e.stack ? e.stack : e}`;
    console.log(`not ok - ${name}: ${reason.split('\n')[0]}`);
    if (reason.includes('\n')) diag(reason.split('\n').slice(1).join('\n'));
    try {
      const s = await page.evaluate(() => (P.video ? P.state() : null));
      if (s) diag(`player state: ${JSON.stringify(s)}`);
    } catch (x) { /* page gone */ }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const state = () => page.evaluate(() => P.state());
const fmt = (x) => (typeof x === 'number' ? x.toFixed(3) : String(x));

/** Waits until `pred(arg)` holds in the page; fails early on a fatal player error. */
async function waitUntil(desc, pred, arg, timeoutMs) {
  const t0 = Date.now();
  for (;;) {
    const r = await page.evaluate(([p, a]) => {
      const f = P.ev ? P.ev.fatal : [];
      if (f.length) return { fatal: f };
      return { ok: !!(0, eval)(`(${p})`)(a) };
    }, [pred.toString(), arg ?? null]);
    if (r.fatal) throw new Fail(`${r.fatal[0]} (while waiting for ${desc})`);
    if (r.ok) return;
    if (Date.now() - t0 > timeoutMs) {
      const s = await state().catch(() => null);
      throw new Fail(`timed out after ${timeoutMs / 1000} s waiting for ${desc}` +
        (s ? ` (currentTime ${fmt(s.currentTime)}, readyState ${s.readyState}, buffered ${JSON.stringify(s.buffered)})` : ''));
    }
    await sleep(100);
  }
}

async function load(kind, name) {
  await page.evaluate(([k, u]) => P.load(k, u), [kind, `${BASE}/${encodeURIComponent(name)}/master.m3u8`]);
  await waitUntil('the presentation to be parsed', () => P.ready(), null, 15_000);
}

async function play(rate = 1) {
  await page.evaluate(async (r) => {
    P.video.defaultPlaybackRate = r;
    P.video.playbackRate = r;
    try { await P.video.play(); } catch (e) { P.ev.fatal.push(`play() rejected: ${e}`); }
  }, rate);
}

/** What is heard over `ms`: the majority language of the samples, and the samples. */
async function hear(ms) {
  const samples = [];
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const h = await page.evaluate(() => P.hear());
    if (h) samples.push(h.lang);
    await sleep(100);
  }
  const counts = {};
  for (const l of samples) counts[l] = (counts[l] || 0) + 1;
  const top = Object.entries(counts).sort((a, b) => b[1] - a[1])[0];
  return { lang: top && top[1] >= samples.length * 0.6 ? (top[0] === 'null' ? null : top[0]) : null, counts };
}

async function master(name) {
  const r = await fetch(`${BASE}/${encodeURIComponent(name)}/master.m3u8`);
  return r.ok ? r.text() : null;
}

/** The URIs of the AUDIO renditions whose LANGUAGE starts like `lang`. */
function audioUris(m, lang) {
  const out = [];
  for (const l of m.split('\n')) {
    if (!l.startsWith('#EXT-X-MEDIA:') || !l.includes('TYPE=AUDIO')) continue;
    const lg = /LANGUAGE="([^"]+)"/.exec(l);
    const u = /URI="([^"]+)"/.exec(l);
    if (lg && u && lg[1].slice(0, 2).toLowerCase() === lang.slice(0, 2)) out.push(u[1]);
  }
  return out;
}

/** Segment requests of `name` for the renditions `uris`, made after request index `from`. */
function segmentRequests(name, uris, from) {
  const stems = uris.map((u) => u.replace(/\.m3u8$/, ''));
  const prefix = `${BASE}/${encodeURIComponent(name)}/`;
  return requests.slice(from).filter((r) => r.url.startsWith(prefix) &&
    stems.some((s) => new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d+\\.m4s$`).test(r.url.slice(prefix.length))));
}

// ------------------------------------------------------------------------------------------------

async function codecsCheck() {
  const exts = /\.(mp4|mkv|ts|mp3|m4a|mka)$/;
  const files = readdirSync(MEDIA_DIR).filter((f) => exts.test(f)).sort();
  const seen = new Map(); // codec -> [files]
  const refused = [];
  for (const f of files) {
    const m = await master(f);
    if (m === null) continue; // files that do not open (the BAD ones)
    for (const l of m.split('\n')) {
      if (!l.startsWith('#EXT-X-STREAM-INF:')) continue;
      const c = /CODECS="([^"]*)"/.exec(l);
      if (!c) throw new Fail(`${f}: EXT-X-STREAM-INF without CODECS: ${l}`);
      for (const codec of c[1].split(',').map((s) => s.trim())) {
        const isVideo = /^(avc[13]|hvc1|hev1|av01|vp09|vp08|dvh[1e])/.test(codec);
        const type = `${isVideo ? 'video' : 'audio'}/mp4; codecs="${codec}"`;
        if (!seen.has(type)) seen.set(type, []);
        seen.get(type).push(f);
      }
    }
  }
  const results = await page.evaluate((types) => types.map((t) => [t, MediaSource.isTypeSupported(t)]), [...seen.keys()]);
  info(`CODECS of ${files.length} test files: ${results.map(([t, ok]) => `${t.replace(/^.*codecs=/, '')}:${ok}`).join(' ')}`);
  const problems = [];
  for (const [type, ok] of results) {
    const codec = /codecs="([^"]+)"/.exec(type)[1];
    const excluded = notDecoded(codec);
    if (!ok && !excluded) refused.push(`${type} (${[...new Set(seen.get(type))].join(', ')})`);
    if (ok && excluded) problems.push(`${type} is listed as not decoded by Chromium (${excluded.why}) but isTypeSupported says yes: update NOT_DECODED`);
    if (!ok && excluded) info(`not decoded by this Chromium, as listed (${excluded.why}): ${type} in ${[...new Set(seen.get(type))].join(', ')}`);
  }
  if (refused.length) problems.unshift(`Chromium refuses ${refused.length} CODECS string(s): ${refused.join('; ')}`);
  if (!results.some(([t]) => t.includes('avc1')) || !results.some(([t]) => t.includes('mp4a'))) problems.push('no avc1/mp4a CODECS seen: masters not read?');
  if (problems.length) throw new Fail(problems.join('\n'));
}

/** One session per player and file: plays in English, switches to French, plays to the end. */
async function languageScenario(kind, name, withSubs) {
  const P = PLAYER_NAME[kind];
  const m = await master(name);
  const frUris = m ? audioUris(m, 'fr') : [];
  let loaded = false;
  let died = null;
  await check(`${P}: ${name}: plays with picture and English sound`, async () => {
    await load(kind, name);
    loaded = true;
    const tracks = await page.evaluate(() => P.audioTracks());
    info(`${P}: ${name}: audio tracks ${JSON.stringify(tracks)}`);
    await page.evaluate(() => P.listen());
    if (withSubs) {
      const r = await page.evaluate(() => P.selectSubtitles('eng'));
      if (r.error) info(`${P}: ${name}: ${r.error}`);
    }
    await play(2);
    await waitUntil('currentTime > 2.5 s', () => P.video.currentTime > 2.5, null, 15_000);
    const h = await hear(1200);
    const s = await state();
    info(`${P}: ${name}: at ${fmt(s.currentTime)} s: ${s.frames} frames, ${s.audioBytes} audio bytes decoded, heard ${JSON.stringify(h)}`);
    if (!(s.frames > 0)) throw new Fail(`no video frame decoded (getVideoPlaybackQuality ${s.frames})`);
    if (!(s.audioBytes > 0)) throw new Fail(`no audio decoded (webkitAudioDecodedByteCount ${s.audioBytes})`);
    if (h.lang !== 'eng') throw new Fail(`the sound is not the English tones (440/660 Hz): heard ${JSON.stringify(h.counts)}`);
  });
  await check(`${P}: ${name}: switching audio to French changes the sound (French segments fetched and decoded)`, async () => {
    if (!loaded) throw new Fail('the presentation did not load');
    const from = requests.length;
    const before = await state();
    const r = await page.evaluate(() => P.selectAudio('fre'));
    if (r.error) throw new Fail(`the player offers no French audio: ${r.error}` +
      `\nthe master has French rendition(s) ${JSON.stringify(frUris)}; players drop the ones whose codec MSE refuses (AC-3/E-AC-3 in Chromium)`);
    const t0 = before.currentTime;
    try {
      await waitUntil('4 s of playback after the switch', (t) => P.video.currentTime > t + 4 || P.ev.ended, t0, 15_000);
    } catch (e) {
      died = e.message;
      throw e;
    }
    const h = await hear(1200);
    const s = await state();
    const segs = segmentRequests(name, frUris, from);
    info(`${P}: ${name}: picked ${JSON.stringify(r.picked)} at ${fmt(t0)} s; at ${fmt(s.currentTime)} s heard ${JSON.stringify(h)}; ` +
      `${segs.length} French segment requests (${segs.slice(0, 3).map((x) => x.url.split('/').pop()).join(', ')}); audio bytes ${before.audioBytes} -> ${s.audioBytes}`);
    if (!segs.length) throw new Fail(`no segment of the French rendition(s) ${JSON.stringify(frUris)} was fetched after the switch`);
    if (!(s.audioBytes > before.audioBytes)) throw new Fail('no audio decoded after the switch');
    if (h.lang !== 'fre') throw new Fail(`after the switch the sound is not the French tones (300-800 Hz): heard ${JSON.stringify(h.counts)} (picked ${JSON.stringify(r.picked)})`);
  });
  if (!withSubs) return;
  await check(`${P}: ${name}: every English subtitle cue is shown`, async () => {
    if (died || !loaded) {
      // The player died at the switch: play again, English only.
      await load(kind, name);
      const r = await page.evaluate(() => P.selectSubtitles('eng'));
      if (r.error) throw new Fail(r.error);
    }
    await page.evaluate(() => { P.video.playbackRate = 4; });
    await play(4);
    await waitUntil("the end ('ended' or the last second)", () => P.ev.ended || P.video.currentTime > P.video.duration - 0.3, null, 20_000);
    await sleep(300);
    const cues = await page.evaluate(() => P.cues('eng'));
    if (!cues) throw new Fail('no English text track showing');
    const starts = [...new Set(cues.map((c) => c.start.toFixed(2)))];
    info(`${P}: ${name}: ${cues.length} cues, starting at ${starts.join(', ')}: ${JSON.stringify(cues.map((c) => c.text.slice(0, 20)))}`);
    if (starts.length !== SOURCE_CUES) throw new Fail(`${starts.length} distinct cues shown, the source has ${SOURCE_CUES}`);
  });
}

/**
 * Seeks around `name` in one session, as a viewer scrubbing: first into the middle of the last
 * segment (nothing buffered there), then back and forth to the middle of every segment and to
 * every odd second (most of them inside buffered ranges, after an I picture that is not the
 * segment's first). After each seek playback must go on 0.5 s without a decode error.
 */
async function seekScenario(kind, name) {
  const P = PLAYER_NAME[kind];
  await check(`${P}: ${name}: a seek into any segment plays on without a decode error`, async () => {
    const m = await master(name);
    const variant = m.split('\n').find((l) => l && !l.startsWith('#'));
    const media = await (await fetch(`${BASE}/${encodeURIComponent(name)}/${variant}`)).text();
    const durs = [...media.matchAll(/#EXTINF:([0-9.]+)/g)].map((x) => +x[1]);
    const total = durs.reduce((a, b) => a + b, 0);
    const mids = durs.map((d, i) => durs.slice(0, i).reduce((a, b) => a + b, 0) + d / 2);
    const odd = [];
    for (let t = 1; t < total - 0.6; t += 2) odd.push(t);
    // Last segment first, then alternate ends of the remaining list (far jumps both ways).
    const rest = [...new Set([...mids.slice(0, -1), ...odd].map((t) => +t.toFixed(3)))].sort((x, y) => x - y);
    const targets = [mids[mids.length - 1]];
    while (rest.length) targets.push(rest.length % 2 ? rest.shift() : rest.pop());
    const problems = [];
    const done = [];
    let loaded = false;
    for (const target of targets) {
      try {
        if (!loaded) {
          await load(kind, name);
          await page.evaluate(() => { P.video.muted = true; });
          await play(1);
          await waitUntil('playback to start', () => P.video.currentTime > 0.2, null, 10_000);
          loaded = true;
        }
        await page.evaluate((t) => { P.video.currentTime = t; }, target);
        await waitUntil(`playback 0.5 s past the seek to ${fmt(target)}`, (t) => P.video.currentTime > t + 0.5, target, 10_000);
        const s = await state();
        if (s.mediaError) throw new Fail(s.mediaError);
        done.push(fmt(target));
      } catch (e) {
        problems.push(`seek to ${fmt(target)} s: ${e.message}`);
        loaded = false; // the player is dead: a new one for the next seek
      }
    }
    const s = await state().catch(() => ({}));
    info(`${P}: ${name}: ${targets.length} seeks (${targets.map(fmt).join(', ')}); ${done.length} played on; ${s.frames} frames decoded in the last session`);
    if (problems.length) throw new Fail(`${problems.length} of ${targets.length} seeks failed: ${problems[0]}${problems.slice(1).map((p) => `\n${p}`).join('')}`);
  });
}

async function main() {
  const watchdog = setTimeout(async () => {
    failed++;
    console.log(`not ok - total time budget: the run did not finish within ${TOTAL_BUDGET_MS / 1000} s`);
    finish();
    process.exit(1);
  }, TOTAL_BUDGET_MS);
  info(`hls.js ${version('hls.js')}, Shaka Player ${version('shaka-player')}, video.js ${version('video.js')}, browser ${CHROMIUM}, server ${BASE}`);
  userDataDir = mkdtempSync(path.join(tmpdir(), 'libhls-players-'));
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
  const external = [];
  context.on('request', (r) => {
    const u = r.url();
    requests.push({ t: Date.now(), url: u });
    if (!u.startsWith(`${BASE}/`) && !u.startsWith('data:') && !u.startsWith('blob:')) external.push(u);
  });
  await context.route(`${PREFIX}/page.html`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: readFileSync(path.join(HERE, 'page.html')) }));
  for (const [name, file] of Object.entries(SCRIPTS)) {
    await context.route(`${PREFIX}/${name}`, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: readFileSync(file) }));
  }
  page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => diag(`page error: ${e.message}`));
  page.setDefaultTimeout(20_000);
  await page.goto(`${PREFIX}/page.html`, { timeout: 15_000 });
  const ok = await page.evaluate(() => typeof P === 'object' && typeof Hls === 'function' && typeof shaka === 'object' && typeof videojs === 'function');
  if (!ok) throw new Error('the page did not load the three players');

  await check('chromium: every CODECS string of the test files passes MediaSource.isTypeSupported, except the codecs Chromium does not decode (AC-3/E-AC-3, HEVC, MP3 in MP4)', codecsCheck);
  const hevc = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L63.90"'));
  for (const kind of PLAYERS) {
    for (const [name, subs] of [['multi_audio.mkv', true], ['multi_audio.mp4', false], ['mkvmerge_subs.mkv', true]]) {
      await languageScenario(kind, name, subs);
    }
  }
  for (const kind of PLAYERS) {
    await seekScenario(kind, 'h264_opengop.mkv');
    if (hevc) {
      await seekScenario(kind, 'hevc_aac.mkv');
    }
  }
  if (!hevc) info('this Chromium does not decode HEVC (isTypeSupported hvc1 false): the HEVC open-GOP seeks run in GStreamer only');
  await check('no request left the server origin', async () => {
    if (external.length) throw new Fail(`${external.length} external requests: ${external.slice(0, 5).join(', ')}`);
  });
  clearTimeout(watchdog);
}

function finish() {
  console.log(`chromium players: ${passed} passed, ${failed} failed`);
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`not ok - harness: ${String(e && e.message ? e.message : e).split('\n')[0]}`);
  if (e && e.stack) diag(e.stack);
}
if (context) await context.close().catch(() => {});
if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
finish();
process.exit(failed > 0 ? 1 : 0);

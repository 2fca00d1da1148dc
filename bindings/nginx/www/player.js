// libhls player page: lists the media folder (nginx autoindex JSON), plays the chosen file's
// presentation from the hls module with hls.js, offers audio / subtitle / quality menus from
// hls.js's audioTracks / subtitleTracks / levels, and shows the media info (info.json).
// window.libhls exposes the live state to tests (bindings/nginx/browser-test.mjs).
'use strict';

const LIST = 'list/';
const VOD = 'vod/';
const MEDIA_EXT = /\.(mp4|m4v|m4a|mov|mkv|mka|mk3d|webm|ts|m2ts|mts|mp3|aac|ac3|flac|ogg|oga|opus|wav|avi|3gp)$/i;

const $ = (id) => document.getElementById(id);
const video = $('video');
const encPath = (p) => p.split('/').map(encodeURIComponent).join('/');
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

const state = {
  dir: '',          // folder shown in the list, relative to the media root ('' or 'a/b/')
  entries: [],      // autoindex entries of that folder
  file: null,       // path of the file playing, relative to the media root
  hls: null,
  info: null,       // parsed info.json of the file playing
  masterStatus: null,
  errors: [],       // every error shown to the user: {what, detail}
  events: [],
  recovered: 0,
};
window.libhls = { state, video, get hls() { return state.hls; } };

// ------------------------------------------------------------------------------------------------
// Status, errors, event log
// ------------------------------------------------------------------------------------------------

function setStatus(text) { $('status').textContent = text; }

function showError(what, detail) {
  state.errors.push({ what, detail: detail || '' });
  const box = $('error');
  box.hidden = false;
  const p = document.createElement('div');
  p.innerHTML = `<strong>${esc(what)}</strong>${detail ? ` — ${esc(detail)}` : ''}`;
  box.appendChild(p);
  logEvent(`error: ${what}${detail ? ` — ${detail}` : ''}`);
}

function clearErrors() {
  state.errors = [];
  $('error').replaceChildren();
  $('error').hidden = true;
}

function logEvent(text) {
  const t = video.currentTime ? `[${video.currentTime.toFixed(2)} s] ` : '';
  state.events.push(t + text);
  const li = document.createElement('li');
  li.textContent = t + text;
  $('events').appendChild(li);
  while ($('events').children.length > 200) $('events').firstChild.remove();
  $('eventcount').textContent = `(${state.events.length})`;
}

const HTTP_HINT = {
  400: 'bad request (the file name or playlist name was refused)',
  403: 'forbidden (the file is not readable by nginx, or a symlink was refused)',
  404: 'not found (no such file, or the presentation has no such name)',
  415: 'unsupported media: libhls cannot read this file',
  422: 'invalid media or no playable track in this file',
  500: 'internal error: see the nginx error log',
  502: 'bad gateway', 503: 'service unavailable', 504: 'gateway timeout',
};
const httpText = (code) => `HTTP ${code}${HTTP_HINT[code] ? `: ${HTTP_HINT[code]}` : ''}`;

// ------------------------------------------------------------------------------------------------
// File list (nginx autoindex, autoindex_format json)
// ------------------------------------------------------------------------------------------------

const fmtSize = (n) => n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(0)} kB` : `${n} B`;

async function loadDir(dir) {
  state.dir = dir;
  $('list').innerHTML = '<li class="muted">Loading…</li>';
  renderCrumbs();
  let r;
  try {
    r = await fetch(LIST + encPath(dir), { cache: 'no-cache' });
  } catch (e) {
    $('list').innerHTML = `<li class="bad">Cannot list the folder: ${esc(e.message)}</li>`;
    return;
  }
  if (!r.ok) {
    $('list').innerHTML = `<li class="bad">Cannot list the folder: ${esc(httpText(r.status))}</li>`;
    return;
  }
  state.entries = await r.json();
  renderList();
}

function renderCrumbs() {
  const parts = state.dir.split('/').filter(Boolean);
  const c = $('crumbs');
  c.replaceChildren();
  const link = (label, dir) => {
    const a = document.createElement('a');
    a.href = '#';
    a.textContent = label;
    a.onclick = (e) => { e.preventDefault(); loadDir(dir); };
    return a;
  };
  c.appendChild(link('media', ''));
  parts.forEach((p, i) => {
    c.appendChild(document.createTextNode(' / '));
    c.appendChild(link(p, parts.slice(0, i + 1).join('/') + '/'));
  });
}

function renderList() {
  const q = $('filter').value.trim().toLowerCase();
  const all = $('showall').checked;
  const ul = $('list');
  ul.replaceChildren();
  let hidden = 0;
  const entries = [...state.entries].sort((a, b) =>
    (a.type === 'directory') !== (b.type === 'directory') ? (a.type === 'directory' ? -1 : 1) : a.name.localeCompare(b.name));
  for (const e of entries) {
    if (q && !e.name.toLowerCase().includes(q)) continue;
    const isDir = e.type === 'directory';
    if (!isDir && e.type !== 'file') continue;
    if (!isDir && !all && !MEDIA_EXT.test(e.name)) { hidden++; continue; }
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = isDir ? '#' : `?file=${encPath(state.dir + e.name)}`;
    a.className = isDir ? 'dir' : 'file';
    a.dataset.name = e.name;
    a.innerHTML = `<span class="name">${esc(e.name)}${isDir ? '/' : ''}</span>` +
      (isDir ? '' : `<span class="size">${fmtSize(e.size)}</span>`);
    if (!isDir && state.dir + e.name === state.file) li.className = 'current';
    a.onclick = (ev) => {
      ev.preventDefault();
      if (isDir) loadDir(state.dir + e.name + '/');
      else play(state.dir + e.name);
    };
    li.appendChild(a);
    ul.appendChild(li);
  }
  if (!ul.children.length) ul.innerHTML = '<li class="muted">No media files here.</li>';
  $('listnote').textContent = hidden ? `${hidden} other file${hidden > 1 ? 's' : ''} hidden (not a media extension)` : '';
}

$('filter').addEventListener('input', renderList);
$('showall').addEventListener('change', renderList);

// ------------------------------------------------------------------------------------------------
// Playback
// ------------------------------------------------------------------------------------------------

function resetPlayer() {
  if (state.hls) { state.hls.destroy(); state.hls = null; }
  video.removeAttribute('src');
  video.load();
  for (const id of ['audio', 'subs', 'quality']) {
    const s = $(id);
    s.innerHTML = '<option>—</option>';
    s.disabled = true;
  }
  state.info = null;
  state.masterStatus = null;
  state.recovered = 0;
  clearErrors();
  $('summary').textContent = '—';
  $('tracks').hidden = true;
  $('notserved').replaceChildren();
  $('links').replaceChildren();
  $('events').replaceChildren();
  state.events = [];
  $('eventcount').textContent = '';
}

async function play(file) {
  resetPlayer();
  state.file = file;
  const base = VOD + encPath(file) + '/';
  const master = base + 'master.m3u8';
  const infoUrl = base + 'info.json';
  history.replaceState(null, '', `?file=${encPath(file)}`);
  document.title = `${file.split('/').pop()} · libhls`;
  $('title').textContent = file;
  $('title').className = '';
  $('links').innerHTML = `<a href="${esc(master)}">master.m3u8</a> · <a href="${esc(infoUrl)}">info.json</a> · ` +
    `<code>${esc(new URL(master, location.href).href)}</code>`;
  for (const li of $('list').children) {
    const a = li.firstChild;
    li.className = a && a.dataset && state.dir + a.dataset.name === file ? 'current' : '';
    if (li.className) li.scrollIntoView({ block: 'nearest' });
  }
  loadInfo(infoUrl, file);
  setStatus('loading master playlist…');

  // The master playlist first, to show its HTTP status (hls.js only says "manifest load error").
  let r;
  try {
    r = await fetch(master);
  } catch (e) {
    showError('master.m3u8 could not be fetched', e.message);
    setStatus('');
    return;
  }
  if (state.file !== file) return;
  state.masterStatus = r.status;
  if (!r.ok) {
    showError(`master.m3u8: ${httpText(r.status)}`, file);
    setStatus('');
    return;
  }

  if (typeof Hls !== 'undefined' && Hls.isSupported()) {
    startHls(master);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    logEvent('hls.js unavailable: using the browser\'s native HLS (no menus)');
    video.src = master;
    video.play().catch(() => {});
    setStatus('native HLS');
  } else {
    showError(typeof Hls === 'undefined' ? 'hls.js is not loaded' : 'this browser has no Media Source Extensions',
      typeof Hls === 'undefined' ? 'hls.js/hls.min.js did not load: run scripts/run.sh, which installs it from npm' : '');
    setStatus('');
  }
}

function startHls(master) {
  const hls = new Hls({ enableWorker: true, renderTextTracksNatively: true, subtitleDisplay: true });
  state.hls = hls;
  const E = Hls.Events;
  hls.on(E.MANIFEST_PARSED, (_e, d) => {
    logEvent(`manifest: ${d.levels.length} level(s), ${(d.audioTracks || []).length} audio, ${(d.subtitleTracks || []).length} subtitle track(s)`);
    fillAudio(); fillSubs(); fillQuality();
    setStatus('ready');
    video.play().catch((e) => logEvent(`autoplay refused (${e.name}): press play`));
  });
  hls.on(E.AUDIO_TRACKS_UPDATED, fillAudio);
  hls.on(E.AUDIO_TRACK_SWITCHED, (_e, d) => { logEvent(`audio track ${d.id} (${trackLabel(hls.audioTracks[d.id])})`); fillAudio(); });
  hls.on(E.SUBTITLE_TRACKS_UPDATED, fillSubs);
  hls.on(E.SUBTITLE_TRACK_SWITCH, (_e, d) => { logEvent(d.id >= 0 ? `subtitles ${d.id} (${trackLabel(hls.subtitleTracks[d.id])})` : 'subtitles off'); fillSubs(); });
  hls.on(E.LEVELS_UPDATED, fillQuality);
  hls.on(E.LEVEL_SWITCHED, (_e, d) => { logEvent(`level ${d.level} (${levelLabel(hls.levels[d.level])})`); fillQuality(); });
  hls.on(E.ERROR, (_e, d) => {
    const url = d.url || (d.frag && d.frag.url) || (d.context && d.context.url) || '';
    const code = d.response && d.response.code;
    const name = url ? url.split('/').pop() : '';
    const detail = `${d.details}${code ? ` (${httpText(code)})` : ''}${name ? ` ${name}` : ''}${d.error && d.error.message ? `: ${d.error.message}` : ''}`;
    if (!d.fatal) {
      logEvent(`non-fatal ${d.type}: ${detail}`);
      if (d.type === Hls.ErrorTypes.MEDIA_ERROR) setStatus(`warning: ${d.details} (see Player events)`);
      return;
    }
    if (d.details === Hls.ErrorDetails.MANIFEST_INCOMPATIBLE_CODECS_ERROR) {
      showError('this browser cannot play any variant of this file',
        `its Media Source Extensions refuse the codecs${d.error && d.error.message ? `: ${d.error.message}` : ''}`);
      setStatus('stopped');
      hls.destroy();
      if (state.hls === hls) state.hls = null;
      return;
    }
    if (d.type === Hls.ErrorTypes.MEDIA_ERROR && state.recovered < 1) {
      state.recovered++;
      logEvent(`fatal media error, recovering: ${detail}`);
      hls.recoverMediaError();
      return;
    }
    showError(`playback failed (${d.type})`, detail);
    setStatus('stopped');
    hls.destroy();
    if (state.hls === hls) state.hls = null;
  });
  video.onplaying = () => setStatus('playing');
  video.onpause = () => setStatus('paused');
  video.onwaiting = () => setStatus('buffering…');
  video.onended = () => setStatus('ended');
  video.onerror = () => { if (video.error) showError('video element error', `code ${video.error.code}: ${video.error.message}`); };
  hls.attachMedia(video);
  hls.loadSource(master);
}

function trackLabel(t) {
  if (!t) return '?';
  const bits = [t.name || t.lang || `track ${t.id}`];
  if (t.lang && t.name) bits.push(`[${t.lang}]`);
  if (t.audioCodec) bits.push(`· ${t.audioCodec}`);
  return bits.join(' ');
}

function levelLabel(l) {
  if (!l) return '?';
  const res = l.height ? `${l.height}p` : (l.videoCodec ? 'video' : 'audio');
  const mbps = l.bitrate ? ` · ${(l.bitrate / 1e6).toFixed(2)} Mb/s` : '';
  const codecs = [l.videoCodec, l.audioCodec].filter(Boolean).join(', ');
  return `${res}${mbps}${codecs ? ` · ${codecs}` : ''}`;
}

function fillSelect(sel, options, selected) {
  sel.replaceChildren();
  for (const [value, label] of options) {
    const o = document.createElement('option');
    o.value = String(value);
    o.textContent = label;
    sel.appendChild(o);
  }
  sel.value = String(selected);
  sel.disabled = options.length < 2;
}

function fillAudio() {
  const h = state.hls;
  if (!h) return;
  const tracks = h.audioTracks;
  if (!tracks.length) { fillSelect($('audio'), [[-1, h.levels.some((l) => l.audioCodec) ? 'in the video' : 'none']], -1); return; }
  fillSelect($('audio'), tracks.map((t, i) => [i, trackLabel(t)]), h.audioTrack);
}

function fillSubs() {
  const h = state.hls;
  if (!h) return;
  const opts = [[-1, h.subtitleTracks.length ? 'Off' : 'none']].concat(h.subtitleTracks.map((t, i) => [i, trackLabel(t)]));
  fillSelect($('subs'), opts, h.subtitleDisplay ? h.subtitleTrack : -1);
}

function fillQuality() {
  const h = state.hls;
  if (!h) return;
  const l = h.levels[h.currentLevel];
  const cur = l ? ` · ${l.height ? `${l.height}p` : levelLabel(l)}` : '';
  const opts = [[-1, `Auto${h.autoLevelEnabled ? cur : ''}`]].concat(h.levels.map((l, i) => [i, levelLabel(l)]));
  fillSelect($('quality'), opts, h.autoLevelEnabled ? -1 : h.currentLevel);
}

$('audio').addEventListener('change', (e) => {
  const h = state.hls;
  const id = Number(e.target.value);
  if (h && id >= 0) h.audioTrack = id;
});
$('subs').addEventListener('change', (e) => {
  const h = state.hls;
  if (!h) return;
  const id = Number(e.target.value);
  if (id < 0) {
    h.subtitleDisplay = false;
    h.subtitleTrack = -1;
  } else {
    h.subtitleDisplay = true;
    h.subtitleTrack = id;
  }
});
$('quality').addEventListener('change', (e) => {
  const h = state.hls;
  if (h) h.currentLevel = Number(e.target.value);
});

// ------------------------------------------------------------------------------------------------
// Media info (info.json from the module: hls_media_info_json)
// ------------------------------------------------------------------------------------------------

function fmtDuration(s) {
  if (!(s >= 0)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? `${h}:${String(m).padStart(2, '0')}` : `${m}`) + `:${sec.toFixed(3).padStart(6, '0')}`;
}

function mseSupport(t) {
  if (!t.served || !t.codec_string || typeof MediaSource === 'undefined') return null;
  const kind = t.type === 'video' ? 'video' : 'audio';
  return MediaSource.isTypeSupported(`${kind}/mp4; codecs="${t.codec_string}"`);
}

async function loadInfo(url, file) {
  let r;
  try {
    r = await fetch(url);
  } catch (e) {
    if (state.file === file) $('summary').textContent = `info.json could not be fetched: ${e.message}`;
    return;
  }
  if (state.file !== file) return;
  if (!r.ok) {
    $('summary').innerHTML = `<span class="bad">info.json: ${esc(httpText(r.status))}</span>`;
    return;
  }
  let info;
  try {
    info = await r.json();
  } catch (e) {
    $('summary').innerHTML = `<span class="bad">info.json is not JSON: ${esc(e.message)}</span>`;
    return;
  }
  if (state.file !== file) return;
  state.info = info;
  renderInfo(info);
}

function renderInfo(info) {
  const tracks = info.tracks || [];
  const served = tracks.filter((t) => t.served).length;
  const bits = [
    `duration <b>${esc(fmtDuration(info.duration))}</b>`,
    info.format ? `container <b>${esc(info.format)}</b>` : null,
    info.indexed_from ? `indexed from <b>${esc(info.indexed_from)}</b>${info.index_time_ms != null ? ` in ${Number(info.index_time_ms).toFixed(1)} ms` : ''}` : null,
    info.segments != null ? `<b>${esc(info.segments)}</b> segments of ≤ ${esc(info.target_duration)} s` : null,
    `<b>${served}</b> of ${tracks.length} tracks served`,
  ].filter(Boolean);
  $('summary').innerHTML = bits.join(' · ');
  $('summary').className = '';
  const tb = $('tracks').tBodies[0];
  tb.replaceChildren();
  for (const t of tracks) {
    const details = t.type === 'video'
      ? [t.width && t.height ? `${t.width}×${t.height}` : null, t.frame_rate ? `${+Number(t.frame_rate).toFixed(3)} fps` : null]
      : t.type === 'audio'
        ? [t.channels ? `${t.channels} ch` : null, t.sample_rate ? `${t.sample_rate} Hz` : null]
        : [];
    const flags = [t.default ? 'default' : null, t.forced ? 'forced' : null].filter(Boolean);
    const mse = mseSupport(t);
    const tr = document.createElement('tr');
    if (!t.served) tr.className = 'notserved';
    tr.innerHTML = [
      esc(t.rendition ?? t.index),
      esc(t.type),
      `${esc(t.codec)}${t.codec_string ? ` <code>${esc(t.codec_string)}</code>` : ''}`,
      `${esc(t.language || '')}${t.title ? ` ${t.language ? '· ' : ''}${esc(t.title)}` : ''}${flags.length ? ` <span class="muted">(${flags.join(', ')})</span>` : ''}`,
      esc(details.filter(Boolean).join(', ')),
      t.served ? esc(t.delivery === 'transcode-aac' ? `AAC made from track ${t.index}` : (t.delivery || 'served')) : `<span class="bad">not served</span>${t.reason ? `: ${esc(t.reason)}` : ''}`,
      t.playlist ? `<a href="${esc(VOD + encPath(state.file) + '/' + t.playlist)}">${esc(t.playlist)}</a>` : '',
      mse === null ? (t.type === 'subtitle' && t.served ? 'WebVTT' : '') : mse ? 'plays' : '<span class="warn">codec unsupported</span>',
    ].map((c) => `<td>${c}</td>`).join('');
    tb.appendChild(tr);
  }
  $('tracks').hidden = !tracks.length;
  const ns = tracks.filter((t) => !t.served);
  const unsupported = tracks.filter((t) => mseSupport(t) === false);
  const notes = [];
  if (ns.length) {
    notes.push(`<p class="bad">Not served: ${ns.map((t) => `track ${esc(t.index)} (${esc(t.type)}, ${esc(t.codec)})${t.reason ? ` — ${esc(t.reason)}` : ''}`).join('; ')}</p>`);
  } else if (tracks.length) {
    notes.push('<p class="ok">Every track is served.</p>');
  }
  if (unsupported.length) {
    const aac = (t) => tracks.find((x) => x.index === t.index && x !== t && x.served && mseSupport(x));
    const alt = unsupported.filter(aac);
    notes.push(`<p class="warn">Served but not playable in this browser (its Media Source Extensions refuse the codec): ${unsupported.map((t) => `track ${esc(t.rendition ?? t.index)} <code>${esc(t.codec_string)}</code>`).join(', ')}. ` +
      (alt.length === unsupported.length
        ? `This browser plays their AAC versions instead (${alt.map((t) => esc(aac(t).rendition)).join(', ')}).</p>`
        : 'Other players may play them; <code>hls_transcode browser_safe;</code> serves such audio as AAC, <code>add_aac</code> adds AAC versions beside AC-3/E-AC-3.</p>'));
  }
  $('notserved').innerHTML = notes.join('');
}

// ------------------------------------------------------------------------------------------------
// Start
// ------------------------------------------------------------------------------------------------

(async () => {
  $('where').textContent = location.host;
  const file = new URLSearchParams(location.search).get('file');
  const dir = file && file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
  if (typeof Hls === 'undefined' && !video.canPlayType('application/vnd.apple.mpegurl')) {
    showError('hls.js is not loaded', 'hls.js/hls.min.js did not load: run scripts/run.sh, which installs it from npm');
  }
  await loadDir(dir);
  if (file) play(file);
})();

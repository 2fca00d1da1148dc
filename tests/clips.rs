//! Clipped presentations (`hls_open_options_set_clip`): a media opened as `[from, to)`.
//!
//! Each file is crawled as a clip through the C API (`hls-dump --clip FROM:TO[:forward]`, into
//! target/test-out/clips/<file>-<policy>/) and checked:
//! - FFmpeg decodes the master playlist with an empty stderr (rule 1 of whole files);
//! - playlists well formed; every media playlist's EXTINF total is the clip's duration within
//!   one frame (`to - from` keyframe-aligned; `to - S` keyframe-forward, `S` the first keyframe
//!   at or after `from` in the source);
//! - fragments as rule 3 of whole files: `mfhd` increasing, `tfdt(n+1) = tfdt(n) + durations`,
//!   EXTINF = sample durations (the first segment: no more than them or than what it presents
//!   from 0, the edit list hiding the rest; the last: no more than them), the first video sample
//!   of every segment a sync sample;
//! - BANDWIDTH at least the measured peak of every variant (rule 5 of whole files);
//! - the presented start: keyframe-aligned, the init's edit list presents `from` at 0 (the
//!   first audio sample within one audio frame before 0, the video's keyframe before it);
//!   keyframe-forward, the video's first picture (a keyframe) is presented at 0;
//! - FFmpeg's decode of the clip's video shows, at time 0, the source's picture at `from`
//!   (frame hashes: the clip's frame presented at 0 against the source's frame presented at
//!   `from`).
//!
//! Through the Rust API: a clip is its own presentation (its own index and cache entries),
//! equal clip options share one, bad clips are clear errors, subtitles are cut and shifted,
//! transcoded audio is the whole file's audio of that range, and a URI query is carried by
//! every URI of every playlist.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::*;
use hls::engine::Media;
use hls::model::open::{Clip, ClipPolicy, OpenOptions};
use hls::{Config, Context, ErrorKind};

/// The clip every file is cut to (ms).
const FROM_MS: u64 = 3300;
const TO_MS: u64 = 7700;

/// MP4, Matroska (scanned: clips never use the Cues planner), MPEG-TS, audio-only (copied AAC,
/// MP3 with its transcoded AAC rendition), text subtitles, several audio tracks (one transcoded
/// to AAC beside AC-3), Opus and FLAC.
const FILES: &[&str] = &[
    "h264_aac.mp4",
    "h264_aac.mkv",
    "h264_aac.ts",
    "hevc_aac.mp4",
    "audio_only.m4a",
    "audio_only.mp3",
    "subs.mp4",
    "multi_audio.mkv",
    "opus_flac.mkv",
    "roles.mkv",
    "mkvmerge_subs.mkv",
];

fn policy_arg(p: ClipPolicy) -> &'static str {
    match p {
        ClipPolicy::KeyframeAligned => "",
        ClipPolicy::KeyframeForward => ":forward",
    }
}

/// Crawls `file` as the clip `[from, to)` with `policy` into its own directory.
fn crawl_clip(file: &str, from: u64, to: u64, policy: ClipPolicy) -> Result<BTreeMap<String, Vec<u8>>, String> {
    crawl_clip_with(file, from, to, policy, &[])
}

/// [`crawl_clip`] with more `hls-dump` arguments.
fn crawl_clip_with(
    file: &str,
    from: u64,
    to: u64,
    policy: ClipPolicy,
    args: &[&str],
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let setup = setup(FILES)?;
    let out = out_root().join("clips").join(format!(
        "{file}-{from}-{to}{}{}",
        policy_arg(policy).replace(':', "-"),
        args.join("")
    ));
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| format!("rm -r {}: {e}", out.display()))?;
    }
    let o = run(Command::new(&setup.hls_dump)
        .args(args)
        .arg("--clip")
        .arg(format!("{from}:{to}{}", policy_arg(policy)))
        .arg(media_dir().join(file))
        .arg(&out)
        .env("LD_LIBRARY_PATH", root().join("target/release")))?;
    if !o.status.success() {
        return Err(format!("hls-dump --clip {file}: {}", String::from_utf8_lossy(&o.stderr).trim()));
    }
    let mut tree = read_tree(&out)?;
    tree.insert("\0dir".into(), out.to_string_lossy().into_owned().into_bytes());
    Ok(tree)
}

fn text(tree: &BTreeMap<String, Vec<u8>>, name: &str) -> Result<String, String> {
    let b = tree.get(name).ok_or_else(|| format!("{name} was not served"))?;
    String::from_utf8(b.clone()).map_err(|e| format!("{name}: {e}"))
}

/// One presented frame: time (s) and FFmpeg's hash of the picture.
type Frame = (f64, String);

/// Every decoded video frame of `path`: ffprobe's presentation time (edit lists applied as
/// FFmpeg applies them) with FFmpeg's frame hash, in output order.
fn video_frames(path: &Path) -> Result<Vec<Frame>, String> {
    let times = run_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0"])
            .arg(path),
    )?;
    let times: Vec<f64> = String::from_utf8_lossy(&times.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    let hashes = run_ok(
        Command::new("ffmpeg").args(["-hide_banner", "-nostdin", "-v", "error", "-copyts", "-i"]).arg(path).args([
            "-map",
            "0:v:0",
            "-vsync",
            "passthrough",
            "-f",
            "framemd5",
            "-",
        ]),
    )?;
    let hashes: Vec<String> = String::from_utf8_lossy(&hashes.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_string()))
        .collect();
    if times.len() != hashes.len() || times.is_empty() {
        return Err(format!("{}: {} frame times, {} hashes", path.display(), times.len(), hashes.len()));
    }
    Ok(times.into_iter().zip(hashes).collect())
}

/// The frame presented at `t`: the last one starting at or before it (times sorted first).
fn frame_at(frames: &[Frame], t: f64) -> Option<&Frame> {
    let mut sorted: Vec<&Frame> = frames.iter().collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    sorted.into_iter().rev().find(|f| f.0 <= t + 1e-4)
}

/// Source facts the checks need: the main stream's key presentation times, frame lengths.
struct Source {
    /// Presentation times (s) of the main track's keyframes (every frame for audio-only).
    keys: Vec<f64>,
    /// The longest frame of any audio/video stream (s): the tolerance of "within one frame".
    frame: f64,
    /// The media's end (s).
    end: f64,
    video: bool,
}

fn source_facts(file: &str) -> Result<Source, String> {
    let probe = ffprobe(&media_dir().join(file))?;
    let video = probe.streams.iter().find(|s| s.codec_type == "video");
    let main = video.or_else(|| probe.streams.iter().find(|s| s.codec_type == "audio")).ok_or("no stream")?;
    let keys: Vec<f64> = main
        .presented()
        .filter(|p| p.key || main.codec_type == "audio")
        .filter_map(|p| p.pts.map(|t| main.secs(t)))
        .collect();
    let mut frame: f64 = 0.0;
    let mut end: f64 = 0.0;
    for s in probe.streams.iter().filter(|s| s.codec_type == "video" || s.codec_type == "audio") {
        frame = frame.max(s.frame_secs());
        if let Some((_, e)) = s.span() {
            end = end.max(e);
        }
    }
    Ok(Source { keys, frame, end, video: video.is_some() })
}

/// Every check of one clip; returns the problems.
fn check_clip(file: &str, policy: ClipPolicy) -> Result<Vec<String>, String> {
    let tree = crawl_clip(file, FROM_MS, TO_MS, policy)?;
    let dir = std::path::PathBuf::from(text(&tree, "\0dir")?);
    let src = source_facts(file)?;
    let (from, to) = (FROM_MS as f64 / 1e3, (TO_MS as f64 / 1e3).min(src.end));
    let start = match policy {
        ClipPolicy::KeyframeAligned => from,
        ClipPolicy::KeyframeForward => {
            let mut keys = src.keys.clone();
            keys.sort_by(f64::total_cmp);
            *keys.iter().find(|&&k| k >= from - 1e-4).ok_or("no keyframe after from")?
        }
    };
    let expected = to - start;
    let tol = src.frame + 0.002;
    let mut problems = Vec::new();
    let mut fail = |m: String| problems.push(format!("{file} {}: {m}", policy.name()));

    // Rule 1: FFmpeg decodes the whole clip, silently.
    let o = run(Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-allowed_extensions", "ALL", "-i"])
        .arg(dir.join("master.m3u8"))
        .args(["-map", "0", "-f", "null", "-"]))?;
    let stderr = String::from_utf8_lossy(&o.stderr).trim().to_string();
    if !o.status.success() || !stderr.is_empty() {
        fail(format!("ffmpeg -i master.m3u8: {} {stderr}", o.status));
    }

    let info: serde_json::Value =
        serde_json::from_slice(tree.get("info.json").ok_or("no info.json")?).map_err(|e| format!("info.json: {e}"))?;
    if info["clip"]["from_ms"] != FROM_MS || info["clip"]["policy"] != policy.name() {
        fail(format!("info.json does not report the clip: {}", info["clip"]));
    }
    if (info["duration"].as_f64().unwrap_or(0.0) - expected).abs() > tol {
        fail(format!("info duration {} for a clip of {expected:.3} s", info["duration"]));
    }

    let master = MasterPlaylist::parse(&text(&tree, "master.m3u8")?);
    if !master.problems.is_empty() {
        fail(format!("master: {:?}", master.problems));
    }
    // Rule 5: BANDWIDTH at least the measured peak (RFC 8216 4.3.4.2: the video's peak segment
    // bit rate plus the worst audio rendition's of the group), with the clip's EXTINF values.
    let peak = |uri: &str| -> f64 {
        let pl = MediaPlaylist::parse(&String::from_utf8_lossy(tree.get(uri).map_or(&[][..], |b| b)));
        pl.segments
            .iter()
            .filter(|s| s.1 > 0.0)
            .map(|s| tree.get(&s.2).map_or(0, |b| b.len()) as f64 * 8.0 / s.1)
            .fold(0.0, f64::max)
    };
    for (attrs, uri) in &master.variants {
        let group = attr(attrs, "AUDIO").map(|a| a.value.clone());
        let audio = master
            .media
            .iter()
            .filter(|m| group.is_some() && attr(m, "GROUP-ID").map(|a| a.value.clone()) == group)
            .filter_map(|m| attr(m, "URI").map(|a| peak(&a.value)))
            .fold(0.0, f64::max);
        let measured = peak(uri) + audio;
        let bw: f64 = attr(attrs, "BANDWIDTH").and_then(|a| a.value.parse().ok()).unwrap_or(0.0);
        if bw < measured || measured <= 0.0 {
            fail(format!("variant {uri}: BANDWIDTH {bw} below the measured peak {measured:.0}"));
        }
    }

    let mut checked = 0;
    for (name, bytes) in &tree {
        let Some(stem) = name.strip_suffix(".m3u8") else { continue };
        if name == "master.m3u8" || stem.ends_with("_iframes") {
            continue;
        }
        let pl = MediaPlaylist::parse(&String::from_utf8_lossy(bytes));
        if !pl.problems.is_empty() || !pl.endlist_last {
            fail(format!("{name}: {:?} (ENDLIST last: {})", pl.problems, pl.endlist_last));
        }
        if (pl.total() - expected).abs() > tol {
            fail(format!(
                "{name}: EXTINF total {:.6} s for a clip of {expected:.6} s (tolerance {tol:.3})",
                pl.total()
            ));
        }
        checked += 1;
        let Some(map) = pl.maps.first() else { continue }; // WebVTT
        let init = parse_init(tree.get(map).ok_or_else(|| format!("{map} not served"))?)?;
        let ts = init.timescale.max(1) as f64;
        let edit = init.timeline()?;
        let video = init.handler == "vide";
        let mut next_tfdt: Option<u64> = None;
        let mut seq = 0;
        let mut first_presented: Option<f64> = None;
        for (k, (_, extinf, uri)) in pl.segments.iter().enumerate() {
            let frags = parse_segment(tree.get(uri).ok_or_else(|| format!("{uri} not served"))?, &init)?;
            let mut dur = 0u64;
            // The end of what the segment presents (s, after the edit list).
            let mut presented_end = f64::MIN;
            for f in &frags {
                if f.sequence <= seq {
                    fail(format!("{uri}: mfhd {} after {seq}", f.sequence));
                }
                seq = f.sequence;
                if let Some(n) = next_tfdt.filter(|&n| n != f.tfdt) {
                    fail(format!("{uri}: tfdt {} where the previous segment ended at {n}", f.tfdt));
                }
                if video && f.samples.first().is_some_and(|s| !s.is_sync()) {
                    fail(format!("{uri}: the first video sample is not a sync sample"));
                }
                if !f.problems.is_empty() {
                    fail(format!("{uri}: {:?}", f.problems));
                }
                if k == 0 && first_presented.is_none() {
                    // Presented time of the first sample (the keyframe decoding starts at),
                    // through the edit list.
                    if let Some(s) = f.samples.first() {
                        first_presented = Some((f.tfdt as i64 + s.cto - edit.media_time) as f64 / ts + edit.start);
                    }
                }
                let mut dts = f.tfdt as i64;
                for s in &f.samples {
                    let end = (dts + s.cto + i64::from(s.duration) - edit.media_time) as f64 / ts + edit.start;
                    presented_end = presented_end.max(end);
                    dts += i64::from(s.duration);
                }
                dur += f.duration();
                next_tfdt = Some(f.tfdt + f.duration());
            }
            let secs = dur as f64 / ts;
            // The first and last segments: what they present (the edit list hides the lead,
            // reordered pictures and an audio frame's tail pass the end). A keyframe-aligned
            // clip's first video segment decodes its hidden lead in a few ticks (so that MSE
            // players keep it): less decode time than it presents, its EXTINF no more than what
            // it presents from 0.
            let edge = k == 0 || k + 1 == pl.segments.len();
            let room = if k == 0 { secs.max(presented_end) } else { secs };
            let ok = if edge { *extinf <= room + 1e-5 } else { (extinf - secs).abs() <= 1e-5 };
            if !ok {
                fail(format!("{uri}: EXTINF {extinf} for {secs:.6} s of samples"));
            }
        }
        // The presented start: `from` (or the forward keyframe) at 0.
        let first = first_presented.ok_or_else(|| format!("{name}: no samples"))?;
        let lead_ok = match (video, policy) {
            (true, ClipPolicy::KeyframeForward) => first.abs() <= 1.0 / ts + 1e-6,
            // Aligned video decodes from the keyframe at or before `from`: hidden by the edit list.
            (true, ClipPolicy::KeyframeAligned) => {
                let key = src.keys.iter().copied().filter(|&k| k <= start + 1e-4).fold(f64::MIN, f64::max);
                first <= 1e-6 && first >= key - start - src.frame
            }
            (false, _) => first <= 1e-6 && first > -src.frame - 1e-3,
        };
        if !lead_ok {
            fail(format!("{name}: first sample presented at {first:.6} s (edit list {:?})", edit));
        }
    }
    if checked < 1 + usize::from(src.video) {
        fail(format!("only {checked} media playlists checked"));
    }

    // FFmpeg shows the source's picture at `from` first (at time 0).
    if src.video {
        let v = dir.join("video.mp4");
        let pl = MediaPlaylist::parse(&text(&tree, "t0.m3u8")?);
        let mut bytes = tree.get(&pl.maps[0]).cloned().ok_or("no init")?;
        for (_, _, uri) in &pl.segments {
            bytes.extend_from_slice(tree.get(uri).ok_or("segment not served")?);
        }
        std::fs::write(&v, bytes).map_err(|e| e.to_string())?;
        let clip = video_frames(&v)?;
        let whole = video_frames(&media_dir().join(file))?;
        let at0 = frame_at(&clip, 0.0).ok_or("no clip frame at 0")?;
        let at_from = frame_at(&whole, start).ok_or("no source frame at from")?;
        if at0.1 != at_from.1 {
            let found = whole.iter().find(|f| f.1 == at0.1).map(|f| f.0);
            fail(format!(
                "FFmpeg shows at 0 the source's frame at {found:?} s, not the one at {start:.3} s ({:.3} s)",
                at_from.0
            ));
        }
    }
    Ok(problems)
}

fn check_all(policy: ClipPolicy) {
    let mut problems = Vec::new();
    for f in FILES {
        match check_clip(f, policy) {
            Ok(p) => problems.extend(p),
            Err(e) => problems.push(format!("{f}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn keyframe_aligned_clips_play_from_the_asked_frame() {
    check_all(ClipPolicy::KeyframeAligned);
}

#[test]
fn keyframe_forward_clips_start_on_the_next_keyframe() {
    check_all(ClipPolicy::KeyframeForward);
}

#[test]
fn a_matroska_clip_read_from_its_cues_is_the_one_a_full_scan_gives() {
    // Clips of Matroska files read their range only (a seek on the Cues, then packets to the
    // end of the clip); `--scan` reads every packet of the file. Same presentation, byte for byte.
    let mut problems = Vec::new();
    for file in ["h264_aac.mkv", "multi_audio.mkv", "opus_flac.mkv", "roles.mkv", "mkvmerge_subs.mkv"] {
        for policy in [ClipPolicy::KeyframeAligned, ClipPolicy::KeyframeForward] {
            for (from, to) in [(FROM_MS, TO_MS), (6_345, 0)] {
                let ranged = crawl_clip(file, from, to, policy);
                let scanned = crawl_clip_with(file, from, to, policy, &["--scan"]);
                match (ranged, scanned) {
                    (Ok(mut a), Ok(mut b)) => {
                        for t in [&mut a, &mut b] {
                            t.remove("\0dir");
                            t.remove("info.json");
                        }
                        let differ: Vec<&String> =
                            a.keys().chain(b.keys()).filter(|n| a.get(*n) != b.get(*n)).collect();
                        if !differ.is_empty() || a.len() < 4 {
                            problems.push(format!("{file} {from}..{to} {}: {differ:?}", policy.name()));
                        }
                    }
                    (a, b) => problems.push(format!("{file}: {:?} / {:?}", a.err(), b.err())),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn clip_options(from_ms: u64, to_ms: Option<u64>) -> OpenOptions {
    OpenOptions { clip: Some(Clip { from_ms, to_ms, policy: ClipPolicy::KeyframeAligned }), ..OpenOptions::default() }
}

fn stat(ctx: &Context, name: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&ctx.stats_json()).unwrap_or_default();
    v[name].as_u64().unwrap_or(u64::MAX)
}

#[test]
fn a_clip_never_serves_the_whole_files_cached_bytes() {
    setup(FILES).unwrap();
    let path = media_dir().join("h264_aac.mp4");
    let ctx = Context::new(Config::default());
    let whole = ctx.open(&path).unwrap();
    let clip = ctx.open_with(&path, &clip_options(FROM_MS, Some(TO_MS))).unwrap();
    assert!(!Arc::ptr_eq(&whole, &clip), "the clip shares the whole file's media");
    for name in ["master.m3u8", "t0.m3u8", "t1.m3u8", "t0_init.mp4", "t0_0.m4s", "t1_0.m4s"] {
        // Whole first, then the clip: a shared cache entry would hand the clip the whole's bytes.
        let (w, _) = ctx.get(&whole, name).unwrap();
        let (c, _) = ctx.get(&clip, name).unwrap();
        if name != "master.m3u8" {
            assert_ne!(w, c, "{name}: the clip got the whole file's bytes");
        }
    }
    let whole_total = MediaPlaylist::parse(&String::from_utf8_lossy(&ctx.get(&whole, "t0.m3u8").unwrap().0)).total();
    let clip_total = MediaPlaylist::parse(&String::from_utf8_lossy(&ctx.get(&clip, "t0.m3u8").unwrap().0)).total();
    assert!(whole_total > 25.0 && (clip_total - 4.4).abs() < 0.05, "whole {whole_total} s, clip {clip_total} s");
    // Equal clip options: the same presentation; another clip: another one.
    let again = ctx.open_with(&path, &clip_options(FROM_MS, Some(TO_MS))).unwrap();
    assert!(Arc::ptr_eq(&clip, &again));
    let other = ctx.open_with(&path, &clip_options(FROM_MS, Some(TO_MS + 1000))).unwrap();
    assert!(!Arc::ptr_eq(&clip, &other));
    assert_eq!(stat(&ctx, "indexings"), 3);
    assert_eq!(stat(&ctx, "clip_opens"), 3);
    assert!(clip.info_json().contains("\"from_ms\":3300"), "{}", clip.info_json());
    assert!(!whole.info_json().contains("\"clip\""));
}

#[test]
fn a_clip_outside_the_media_is_refused_with_a_clear_status() {
    setup(FILES).unwrap();
    let path = media_dir().join("h264_aac.mp4");
    let ctx = Context::new(Config::default());
    let e = ctx.open_with(&path, &clip_options(60_000, None)).err().expect("a clip after the end opened");
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("beyond the media's end"), "{}", e.message);
    let e = ctx.open_with(&path, &clip_options(5000, Some(5000))).err().expect("an empty clip opened");
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    // The C setter validates what it can before the open.
    use hls::ffi::{
        hls_open_options_free, hls_open_options_new, hls_open_options_set_clip, hls_open_options_set_uri_query,
        HlsStatus,
    };
    let o = hls_open_options_new();
    // SAFETY: o is live options from hls_open_options_new, used by this thread only.
    unsafe {
        assert_eq!(hls_open_options_set_clip(o, 5000, 4000, 0), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
        assert_eq!(hls_open_options_set_clip(o, 1000, 4000, 7), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
        assert_eq!(hls_open_options_set_clip(o, 1000, u64::MAX, 1), HlsStatus::HLS_OK);
        assert_eq!(hls_open_options_set_uri_query(o, c"a=1 b".as_ptr()), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
        assert_eq!(hls_open_options_set_uri_query(o, c"clip_from=1000".as_ptr()), HlsStatus::HLS_OK);
        hls_open_options_free(o);
    }
}

/// `(start, end, text)` of every cue of a WebVTT file (seconds).
fn vtt_cues(vtt: &str) -> Vec<(f64, f64, String)> {
    let secs = |s: &str| -> f64 {
        let p: Vec<f64> = s.trim().split(':').filter_map(|x| x.parse().ok()).collect();
        p.iter().fold(0.0, |a, x| a * 60.0 + x)
    };
    let lines: Vec<&str> = vtt.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some((a, b)) = l.split_once(" --> ") {
            out.push((secs(a), secs(b), lines.get(i + 1).unwrap_or(&"").to_string()));
        }
    }
    out
}

#[test]
fn clip_subtitles_show_the_same_lines_at_the_same_moments() {
    setup(FILES).unwrap();
    let path = media_dir().join("subs.mp4");
    let ctx = Context::new(Config::default());
    let whole = ctx.open(&path).unwrap();
    let clip = ctx.open_with(&path, &clip_options(FROM_MS, Some(TO_MS))).unwrap();
    let (from, to) = (FROM_MS as f64 / 1e3, TO_MS as f64 / 1e3);
    let whole_cues = vtt_cues(&String::from_utf8_lossy(&ctx.get(&whole, "t2.vtt").unwrap().0));
    let clip_cues = vtt_cues(&String::from_utf8_lossy(&ctx.get(&clip, "t2.vtt").unwrap().0));
    let expected: Vec<(f64, f64, String)> = whole_cues
        .iter()
        .filter(|c| c.1 > from && c.0 < to)
        .map(|c| ((c.0.max(from) - from), (c.1.min(to) - from), c.2.clone()))
        .collect();
    assert!(!expected.is_empty(), "no cue in the clip's range: test media changed? {whole_cues:?}");
    assert_eq!(clip_cues.len(), expected.len(), "{clip_cues:?} vs {expected:?}");
    for (c, e) in clip_cues.iter().zip(&expected) {
        assert!((c.0 - e.0).abs() < 0.002 && (c.1 - e.1).abs() < 0.002 && c.2 == e.2, "{c:?} vs {e:?}");
    }
}

/// Mono 16-bit PCM of the AAC track `t` of `media` (init and every segment, decoded by FFmpeg).
fn decoded_pcm(ctx: &Context, media: &Media, t: &str, work: &Path) -> Vec<i16> {
    let pl = MediaPlaylist::parse(&String::from_utf8_lossy(&ctx.get(media, &format!("{t}.m3u8")).unwrap().0));
    let mut bytes = ctx.get(media, &pl.maps[0]).unwrap().0.to_vec();
    for (_, _, uri) in &pl.segments {
        bytes.extend_from_slice(&ctx.get(media, uri).unwrap().0);
    }
    std::fs::write(work, bytes).unwrap();
    let o = run_ok(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
            .arg(work)
            .args(["-ac", "1", "-ar", "48000", "-f", "s16le", "-"]),
    )
    .unwrap();
    o.stdout.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
}

#[test]
fn transcoded_clip_audio_is_the_whole_files_audio_of_that_range() {
    setup(FILES).unwrap();
    let path = media_dir().join("audio_only.mp3");
    let ctx = Context::new(Config::default());
    let whole = ctx.open(&path).unwrap();
    let clip = ctx.open_with(&path, &clip_options(FROM_MS, Some(TO_MS))).unwrap();
    let work = out_root().join("clips");
    std::fs::create_dir_all(&work).unwrap();
    // t0a: the AAC rendition made from the MP3, per segment.
    let w = decoded_pcm(&ctx, &whole, "t0a", &work.join("whole-t0a.mp4"));
    let c = decoded_pcm(&ctx, &clip, "t0a", &work.join("clip-t0a.mp4"));
    // Both are on one grid of AAC frames: find where the clip's audio sits in the whole
    // file's (near `from`), then compare 2 s from 1 s into the clip.
    let (at, len) = (48_000usize, 96_000usize);
    assert!(c.len() > at + len, "clip audio has {} samples", c.len());
    let window = &c[at..at + len];
    let energy: f64 = window.iter().map(|&x| (x as f64).powi(2)).sum();
    assert!(energy > 0.0, "the clip's audio is silent");
    let guess = (FROM_MS as usize * 48) + at;
    let mut best = (f64::MAX, 0usize);
    for off in guess.saturating_sub(6000)..guess + 6000 {
        if off + len > w.len() {
            break;
        }
        let err: f64 =
            window.iter().zip(&w[off..off + len]).step_by(7).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
        if err < best.0 {
            best = (err, off);
        }
    }
    let err: f64 = window.iter().zip(&w[best.1..best.1 + len]).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
    let rel = (err / energy).sqrt();
    assert!(
        rel < 0.1,
        "the clip's AAC differs from the whole file's by {rel:.3} (relative RMS) at best offset {}",
        best.1
    );
}

#[test]
fn every_uri_of_a_clip_keeps_its_query() {
    setup(FILES).unwrap();
    let path = media_dir().join("subs.mp4");
    let ctx = Context::new(Config::default());
    let q = "clip_from=3300&clip_to=7700";
    let opts = OpenOptions { uri_query: Some(q.into()), ..clip_options(FROM_MS, Some(TO_MS)) };
    let m = ctx.open_with(&path, &opts).unwrap();
    let mut playlists = vec!["master.m3u8".to_string()];
    let mut seen = 0;
    while let Some(name) = playlists.pop() {
        let text = String::from_utf8_lossy(&ctx.get(&m, &name).unwrap().0).into_owned();
        for l in text.lines() {
            let uri = if l.starts_with('#') {
                match l.split_once("URI=\"") {
                    Some((_, rest)) => rest.split('"').next().unwrap_or(""),
                    None => continue,
                }
            } else if l.is_empty() {
                continue;
            } else {
                l
            };
            let (bare, query) = uri.split_once('?').unwrap_or((uri, ""));
            assert_eq!(query, q, "{name}: {uri} lost the clip's query");
            seen += 1;
            // Names are served without the query.
            ctx.get(&m, bare).unwrap_or_else(|e| panic!("{bare}: {e}"));
            if bare.ends_with(".m3u8") {
                playlists.push(bare.to_string());
            }
        }
    }
    assert!(seen > 10, "only {seen} URIs");
}

#[path = "web/mod.rs"]
mod web;

/// hls.js in headless Chromium plays the clip `[FROM_MS, TO_MS)` of h264_aac.mp4 (its keyframe
/// before FROM_MS is 1.78 s earlier; the next one 0.62 s later) crawled with `policy`
/// (tests/browser/crawl_play.mjs, `clip` mode): the video is buffered from 0, the picture at the
/// start (`first_picture_s`) and at 2 s is the source's at the clip's start (+ that time) within
/// a frame, the duration is the clip's, and played from 0 it reaches its end (`ended`).
/// `LIBHLS_SKIP_BROWSER=1` skips it.
fn hls_js_plays_clip(policy: ClipPolicy, first_picture_s: f64) {
    if std::env::var_os("LIBHLS_SKIP_BROWSER").is_some_and(|v| v != "0") {
        println!("skipped (LIBHLS_SKIP_BROWSER is set)");
        return;
    }
    let file = "h264_aac.mp4";
    let tree = crawl_clip(file, FROM_MS, TO_MS, policy).unwrap_or_else(|e| panic!("{e}"));
    let dir = String::from_utf8(tree["\0dir"].clone()).unwrap();
    // Where the clip starts in the source: FROM_MS, or (keyframe-forward) the keyframe after it.
    let info: serde_json::Value = serde_json::from_slice(&tree["info.json"]).unwrap();
    let duration_ms = (info["duration"].as_f64().expect("info duration") * 1000.0).round() as u64;
    let start_ms = TO_MS - duration_ms;
    match policy {
        ClipPolicy::KeyframeAligned => assert_eq!(start_ms, FROM_MS, "info duration {}", info["duration"]),
        ClipPolicy::KeyframeForward => assert!(start_ms > FROM_MS, "info duration {}", info["duration"]),
    }
    let chromium = web::ensure_chromium().expect("chromium");
    let node_dir = web::ensure_node_modules().expect("node modules");
    let (status, out, err) = web::run_with_deadline(
        Command::new("node")
            .arg(root().join("tests/browser/crawl_play.mjs"))
            .arg(&dir)
            .arg("clip")
            .arg(media_dir().join(file))
            .arg(start_ms.to_string())
            .arg(TO_MS.to_string())
            .arg(first_picture_s.to_string())
            .env("LIBHLS_NODE_DIR", &node_dir)
            .env("LIBHLS_CHROMIUM", &chromium),
        std::time::Duration::from_secs(150),
    )
    .expect("node");
    println!("{out}");
    assert!(status.is_some_and(|s| s.success()), "crawl_play.mjs clip failed ({status:?}):\n{out}\n{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("ok - ")).count(), 8, "every check ran:\n{out}");
}

#[test]
fn hls_js_in_chromium_plays_a_keyframe_forward_clip_from_its_keyframe_to_its_end() {
    hls_js_plays_clip(ClipPolicy::KeyframeForward, 0.0);
}

/// The keyframe-aligned clip plays in hls.js from the asked frame to its end. Its hidden lead
/// (the 44 pictures decoded from the keyframe 1.78 s before FROM_MS) is written squeezed into
/// the ticks just before FROM_MS and the edit lists in a form Chromium's MSE ignores
/// (src/engine/lead.rs): otherwise Chromium applies the edit list, MSE drops the hidden
/// pictures before 0 and every picture up to the next keyframe (video buffered from 0.62 s),
/// and hls.js, which never reads the edit list, lays out a timeline 1.86 s off the buffered
/// one, re-appends the first segment (bufferAppendNoProgress) and never ends the stream: a
/// stall 0.04 s before the end. Paused at exactly 0, Chromium shows the lead's keyframe (the
/// lead lasts about 0.5 ms there): the first picture is checked 5 ms in.
#[test]
fn hls_js_in_chromium_plays_a_keyframe_aligned_clip_from_the_asked_frame_to_its_end() {
    hls_js_plays_clip(ClipPolicy::KeyframeAligned, 0.005);
}

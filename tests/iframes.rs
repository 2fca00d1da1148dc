//! I-frame playlists (trick play: fast-forward and scrubbing on Apple devices). Each video
//! rendition has an `EXT-X-I-FRAME-STREAM-INF` in the master naming `tN_iframes.m3u8`; its
//! entries are the keyframes that start the media segments, each served alone as its own fMP4
//! fragment (`tN_iK.m4s`). For several test files this crawls the presentation with `hls-dump`
//! and checks every rule: the master's attributes, the playlist's tags, the entry times against
//! the source's keyframes, the durations against the video's, and that FFmpeg decodes every
//! entry alone (init segment + entry) to exactly one picture.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

const FILES: &[&str] = &[
    "h264_aac.mp4",
    "h264_aac.mkv",
    "hevc_aac.mp4",
    "multi_audio.mkv",
    "vfr.mp4",
    "vfr_bframes.mp4",
    "h264_aac_frag.mp4",
    "h264_opengop.mkv",
    "hevc_aac.mkv",
    "hdr10.mkv",
    "vp9_opus.webm",
    "offset_start.mp4",
];

/// Crawls `file` into its own directory and returns every name it served.
fn crawl_file(file: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut needed = FILES.to_vec();
    needed.push("audio_only.m4a");
    let setup = setup(&needed)?;
    let out = out_root().join("iframes").join(file);
    crawl(&setup.hls_dump, &media_dir().join(file), &out)?;
    read_tree(&out)
}

fn text(tree: &BTreeMap<String, Vec<u8>>, name: &str) -> Result<String, String> {
    let b = tree.get(name).ok_or_else(|| format!("{name} was not served"))?;
    String::from_utf8(b.clone()).map_err(|e| format!("{name}: {e}"))
}

/// `(attributes, URI)` of every `EXT-X-I-FRAME-STREAM-INF` of a master playlist.
fn iframe_streams(master: &str) -> Result<Vec<Vec<Attr>>, String> {
    master.lines().filter_map(|l| l.strip_prefix("#EXT-X-I-FRAME-STREAM-INF:")).map(parse_attrs).collect()
}

fn value(a: &[Attr], name: &str) -> Result<String, String> {
    attr(a, name).map(|x| x.value.clone()).ok_or_else(|| format!("no {name}"))
}

/// Decodes `bytes` (an init segment and one entry) with FFmpeg: the number of video frames and
/// whatever FFmpeg said at level `error`.
fn ffmpeg_frames(bytes: &[u8]) -> Result<(usize, String), String> {
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i", "pipe:0", "-map", "0:v", "-f", "framecrc", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("ffmpeg: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("ffmpeg: no stdin")?;
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().map_err(|e| format!("ffmpeg: {e}"))?;
    let _ = writer.join();
    let frames = String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with('#')).count();
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !out.status.success() {
        return Err(format!("ffmpeg failed ({}): {err}", out.status));
    }
    Ok((frames, err))
}

/// Every rule for one file; returns the problems found.
fn check_file(file: &str) -> Result<Vec<String>, String> {
    let tree = crawl_file(file)?;
    let master_text = text(&tree, "master.m3u8")?;
    let master = MasterPlaylist::parse(&master_text);
    let probe = ffprobe(&media_dir().join(file))?;
    let mut problems = Vec::new();
    let mut fail = |m: String| problems.push(format!("{file}: {m}"));

    // One I-frame stream per video rendition (the distinct video playlists the variants name).
    let mut video_uris: Vec<&str> = master.variants.iter().map(|(_, u)| u.as_str()).collect();
    video_uris.dedup();
    let streams = iframe_streams(&master_text)?;
    if streams.len() != video_uris.len() {
        fail(format!("{} EXT-X-I-FRAME-STREAM-INF for {} video renditions", streams.len(), video_uris.len()));
    }
    for (a, video_uri) in streams.iter().zip(&video_uris) {
        let (variant, _) = master.variants.iter().find(|(_, u)| u == video_uri).ok_or("no variant")?;
        let uri = value(a, "URI")?;
        if !attr(a, "URI").is_some_and(|x| x.quoted) {
            fail("URI is not a quoted string".into());
        }
        let bandwidth: u64 = value(a, "BANDWIDTH")?.parse().map_err(|e| format!("BANDWIDTH: {e}"))?;
        let average: u64 = value(a, "AVERAGE-BANDWIDTH")?.parse().map_err(|e| format!("AVERAGE-BANDWIDTH: {e}"))?;
        let codecs = value(a, "CODECS")?;
        let video_codec = value(variant, "CODECS")?.split(',').next().unwrap_or("").to_string();
        if codecs != video_codec {
            fail(format!("I-frame CODECS {codecs:?}, the video variant's video codec is {video_codec:?}"));
        }
        for name in ["RESOLUTION", "VIDEO-RANGE"] {
            let (mine, theirs) = (value(a, name)?, value(variant, name)?);
            if mine != theirs {
                fail(format!("I-frame {name} {mine}, the video variant's {theirs}"));
            }
        }
        let video = MediaPlaylist::parse(&text(&tree, video_uri)?);
        let pl = MediaPlaylist::parse(&text(&tree, &uri)?);
        for p in &pl.problems {
            fail(format!("{uri}: {p}"));
        }
        let version: u32 = pl.versions.first().and_then(|v| v.parse().ok()).unwrap_or(0);
        if pl.versions.len() != 1 || version < 5 {
            fail(format!("{uri}: EXT-X-VERSION {:?} (EXT-X-MAP in an I-frame playlist needs 5)", pl.versions));
        }
        if !pl.text.lines().any(|l| l == "#EXT-X-I-FRAMES-ONLY") {
            fail(format!("{uri}: no EXT-X-I-FRAMES-ONLY"));
        }
        if pl.playlist_type != ["VOD"] || !pl.endlist_last {
            fail(format!("{uri}: PLAYLIST-TYPE {:?}, ENDLIST last {}", pl.playlist_type, pl.endlist_last));
        }
        if pl.maps != video.maps || pl.maps.len() != 1 {
            fail(format!("{uri}: EXT-X-MAP {:?}, the video playlist's {:?}", pl.maps, video.maps));
        }
        let target: u64 = pl.target_durations.first().and_then(|t| t.parse().ok()).unwrap_or(0);
        if let Some(s) = pl.segments.iter().find(|s| s.1.round() as u64 > target) {
            fail(format!("{uri}: EXTINF {} is over EXT-X-TARGETDURATION {target}", s.0));
        }
        if pl.segments.is_empty() {
            fail(format!("{uri}: no entry"));
            continue;
        }
        if (pl.total() - video.total()).abs() > 1e-3 {
            fail(format!("{uri}: entries last {:.6} s, the video {:.6} s", pl.total(), video.total()));
        }

        // Each entry: one fragment with one sync sample, decodable alone, at a source keyframe.
        let init_bytes = tree.get(&pl.maps[0]).ok_or("no init segment")?;
        let init = parse_init(init_bytes)?;
        let timeline = init.timeline()?;
        let src = probe.streams.iter().find(|s| s.codec_type == "video" && !s.attached_pic).ok_or("no video stream")?;
        let keys: Vec<f64> = src.presented().filter(|p| p.key).map(|p| src.secs(p.pts.unwrap_or(0))).collect();
        let tick = 1.0 / init.timescale.max(1) as f64;
        let tolerance = tick.max(0.0011);
        let mut at = None::<f64>;
        let (mut peak, mut bytes) = (0f64, 0usize);
        for (text_dur, dur, name) in &pl.segments {
            let entry = tree.get(name).ok_or_else(|| format!("{name} was not served"))?;
            bytes += entry.len();
            peak = peak.max(entry.len() as f64 * 8.0 / dur);
            let frags = parse_segment(entry, &init)?;
            let [frag] = frags.as_slice() else {
                fail(format!("{name}: {} fragments, want 1", frags.len()));
                continue;
            };
            let [s] = frag.samples.as_slice() else {
                fail(format!("{name}: {} samples, want 1", frag.samples.len()));
                continue;
            };
            if !s.is_sync() {
                fail(format!("{name}: the sample is not a sync sample"));
            }
            let pts = (frag.tfdt as i64 + s.cto - timeline.media_time) as f64 * tick + timeline.start;
            let expected = *at.get_or_insert(pts);
            if (pts - expected).abs() > tolerance {
                fail(format!("{name}: keyframe at {pts:.6} s, but the entries before it end at {expected:.6} s"));
            }
            if !keys.iter().any(|k| (k - pts).abs() <= tolerance) {
                fail(format!("{name}: {pts:.6} s is no keyframe of the source"));
            }
            at = Some(expected + dur);
            let mut alone = init_bytes.clone();
            alone.extend_from_slice(entry);
            match ffmpeg_frames(&alone) {
                Ok((1, e)) if e.is_empty() => {}
                Ok((n, e)) => fail(format!("{name} (EXTINF {text_dur}): FFmpeg decoded {n} frames alone: {e}")),
                Err(e) => fail(format!("{name}: {e}")),
            }
        }
        let average_measured = bytes as f64 * 8.0 / pl.total();
        if (bandwidth as f64) < peak || (average as f64) < average_measured.floor() || average > bandwidth {
            fail(format!(
                "BANDWIDTH {bandwidth} / AVERAGE-BANDWIDTH {average}, the entries measure {peak:.0} / {average_measured:.0}"
            ));
        }
    }
    Ok(problems)
}

#[test]
fn trick_play_has_a_decodable_keyframe_for_every_segment() {
    let results = par_map(FILES, workers(), |f: &&str| (*f, check_file(f)));
    let mut problems = Vec::new();
    for (f, r) in results {
        match r {
            Ok(p) => problems.extend(p),
            Err(e) => problems.push(format!("{f}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn audio_only_file_has_no_iframe_playlist() {
    let tree = crawl_file("audio_only.m4a").expect("crawl");
    let master = text(&tree, "master.m3u8").expect("master");
    assert!(!master.contains("I-FRAME"), "an audio-only master names an I-frame playlist:\n{master}");
    assert!(!tree.keys().any(|n| n.contains("iframes")), "served: {:?}", tree.keys().collect::<Vec<_>>());
}

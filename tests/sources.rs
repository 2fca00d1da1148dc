//! Files as users have them (issue #14): fragmented MP4 recordings, variable frame rate, cover
//! art. Each file is crawled through the C API with `hls-dump` (into target/test-out/sources/) and
//! compared with its source. The general checks (FFmpeg decodes every presentation with the
//! source's frame count, timestamps as in the source, audio boundaries within one audio frame of
//! the video's, EXTINF = the segment's sample durations) run on these files in
//! tests/presentation.rs; these tests check what is particular to each kind of file.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::Value;

const FRAGMENTED: [&str; 3] = ["h264_aac_frag.mp4", "h264_aac_fragdur.mp4", "h264_aac_sidx.mp4"];
const COVERS: [&str; 3] = ["cover.mp3", "cover.m4a", "cover.mkv"];

/// Crawls `file` (once per process and file) and returns its output tree.
fn crawled(file: &str) -> (PathBuf, BTreeMap<String, Vec<u8>>) {
    let mut all: Vec<&str> = vec!["h264_aac.mp4", "vfr.mp4", "vfr.mkv", "vfr_bframes.mp4"];
    all.extend(FRAGMENTED);
    all.extend(COVERS);
    let setup = setup(&all).expect("setup");
    let out = out_root().join("sources").join(file);
    crawl(&setup.hls_dump, &media_dir().join(file), &out).expect("crawl");
    let tree = read_tree(&out).expect("read crawl");
    (out, tree)
}

fn info(tree: &BTreeMap<String, Vec<u8>>) -> Value {
    serde_json::from_slice(&tree["info.json"]).expect("info.json")
}

fn text(tree: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    String::from_utf8(tree.get(name).unwrap_or_else(|| panic!("{name} not served")).clone()).expect("UTF-8")
}

#[test]
fn fragmented_recording_plays_exactly_like_its_unfragmented_source() {
    let (_, plain) = crawled("h264_aac.mp4");
    for file in FRAGMENTED {
        let (_, frag) = crawled(file);
        let info = info(&frag);
        assert_eq!(info["indexed_from"], "mp4 movie fragments", "{file}: {}", info["indexed_from"]);
        // FFmpeg's fragmenting muxer keeps every video sample and time: the video playlist and
        // every video segment are byte for byte those of the unfragmented file.
        assert_eq!(text(&frag, "t0.m3u8"), text(&plain, "t0.m3u8"), "{file}: video playlist");
        let video: Vec<&String> = plain.keys().filter(|k| k.starts_with("t0_") && k.ends_with(".m4s")).collect();
        assert!(video.len() >= 5, "{} video segments", video.len());
        for k in video {
            assert!(frag.get(k) == plain.get(k), "{file}: {k} differs from h264_aac.mp4's");
        }
        // Audio: the muxer turned the AAC priming frame (which the unfragmented file's edit list
        // hides) into an 80 ms first frame, so segment 0 differs; every later segment is the same,
        // so the audio boundaries are the unfragmented file's.
        let a_frag = MediaPlaylist::parse(&text(&frag, "t1.m3u8"));
        let a_plain = MediaPlaylist::parse(&text(&plain, "t1.m3u8"));
        assert_eq!(a_frag.segments.len(), a_plain.segments.len(), "{file}: audio segments");
        for (k, (a, b)) in a_frag.segments.iter().zip(&a_plain.segments).enumerate().skip(1) {
            assert_eq!(a.0, b.0, "{file}: audio segment {k} EXTINF");
            let name = format!("t1_{k}.m4s");
            assert!(frag.get(&name) == plain.get(&name), "{file}: {name} differs from h264_aac.mp4's");
        }
        // Segment 0 holds the unfragmented file's first segment plus what precedes it: the
        // video's first picture is at 0.080 s, the audio starts at 0, and the first audio
        // boundary is within one AAC frame (1024/48000 s) of the video's first boundary.
        let v = MediaPlaylist::parse(&text(&frag, "t0.m3u8"));
        let audio_end = a_frag.segments[0].1;
        let video_end = 0.080 + v.segments[0].1;
        assert!(
            (audio_end - video_end).abs() <= 1024.0 / 48000.0,
            "{file}: first audio boundary at {audio_end:.6}s, video's at {video_end:.6}s"
        );
    }
}

/// `(timescale, stts deltas one per sample)` of the first track of an MP4 file.
fn stts(file: &std::path::Path) -> (u32, Vec<u32>) {
    let d = std::fs::read(file).expect("read source");
    let top = boxes(&d, 0, d.len()).expect("boxes");
    let moov = top.iter().find(|b| b.is(b"moov")).expect("moov");
    let trak = children(&d, moov).expect("moov").into_iter().find(|b| b.is(b"trak")).expect("trak");
    let mdhd = path(&d, &trak, &[b"mdia", b"mdhd"]).expect("mdhd");
    let timescale = u32_at(&d, mdhd.body + 12).expect("timescale");
    let stts = path(&d, &trak, &[b"mdia", b"minf", b"stbl", b"stts"]).expect("stts");
    let n = u32_at(&d, stts.body + 4).expect("count") as usize;
    let mut deltas = Vec::new();
    for e in 0..n {
        let count = u32_at(&d, stts.body + 8 + 8 * e).expect("entry");
        let delta = u32_at(&d, stts.body + 12 + 8 * e).expect("entry");
        deltas.extend(std::iter::repeat_n(delta, count as usize));
    }
    (timescale, deltas)
}

#[test]
fn variable_frame_rate_video_declares_its_maximum_rate_and_its_real_duration() {
    for file in ["vfr.mp4", "vfr.mkv"] {
        let (_, tree) = crawled(file);
        let master = MasterPlaylist::parse(&text(&tree, "master.m3u8"));
        let (attrs, _) = master.variants.first().expect("a variant");
        // 5 s at 60 fps then 5 s at 30 fps: the maximum is 60, not the average (about 45).
        assert_eq!(attr(attrs, "FRAME-RATE").map(|a| a.value.as_str()), Some("60.000"), "{file}");
        let video = MediaPlaylist::parse(&text(&tree, "t0.m3u8"));
        let init = parse_init(&tree["t0_init.mp4"]).expect("init");
        // Each segment's samples, in source order.
        let mut counts = Vec::new();
        for (k, seg) in video.segments.iter().enumerate() {
            let frags = parse_segment(&tree[&seg.2], &init).expect("segment");
            counts.push(frags.iter().map(|f| f.samples.len()).sum::<usize>());
            let secs = frags.iter().map(|f| f.duration()).sum::<u64>() as f64 / init.timescale as f64;
            assert!((seg.1 - secs).abs() < 1e-6, "{file}: segment {k} EXTINF {} but its samples last {secs}", seg.0);
        }
        if file.ends_with(".mp4") {
            // Every EXTINF is the sum of the source's own sample durations (stts), the last
            // sample's duration included, and so is the total.
            let (ts, deltas) = stts(&media_dir().join(file));
            assert_eq!(counts.iter().sum::<usize>(), deltas.len(), "{file}: samples served");
            let mut at = 0;
            for (k, (&n, seg)) in counts.iter().zip(&video.segments).enumerate() {
                let src = deltas[at..at + n].iter().map(|&d| u64::from(d)).sum::<u64>() as f64 / f64::from(ts);
                assert_eq!(seg.0, format!("{src:.6}"), "{file}: segment {k} vs the source's durations");
                at += n;
            }
            let total = deltas.iter().map(|&d| u64::from(d)).sum::<u64>() as f64 / f64::from(ts);
            assert!((video.total() - total).abs() < 5e-7 * video.segments.len() as f64, "{file}: {total}");
        } else {
            // Matroska: the blocks' timestamps (no B-frames: decode order is presentation order);
            // the last frame lasts what the track's default duration says.
            let probe = ffprobe(&media_dir().join(file)).expect("ffprobe");
            let v = probe.streams.iter().find(|s| s.codec_type == "video").expect("video");
            let (first, end) = v.span().expect("span");
            assert_eq!(counts.iter().sum::<usize>(), v.packets.len(), "{file}: samples served");
            assert!((video.total() - (end - first)).abs() < 0.0005, "{file}: {} vs {}", video.total(), end - first);
        }
    }
}

#[test]
fn cover_art_is_not_a_video_track() {
    for file in COVERS {
        let (out, tree) = crawled(file);
        let master = text(&tree, "master.m3u8");
        let m = MasterPlaylist::parse(&master);
        // Audio only: one variant per audio rendition (MP3 also gets its AAC rendition), none
        // with a picture.
        assert!(!m.variants.is_empty() && m.variants.len() <= 2, "{file}: {master}");
        for (attrs, _) in &m.variants {
            assert!(attr(attrs, "RESOLUTION").is_none() && attr(attrs, "FRAME-RATE").is_none(), "{file}: {master}");
            let codecs = attr(attrs, "CODECS").map(|a| a.value.clone()).unwrap_or_default();
            assert!(codecs.starts_with("mp4a.") && !codecs.contains(','), "{file}: CODECS {codecs}");
        }
        // The info JSON says what the picture is and why it is not served.
        let info = info(&tree);
        let tracks = info["tracks"].as_array().expect("tracks");
        let pictures: Vec<&Value> =
            tracks.iter().filter(|t| t["reason"].as_str().is_some_and(|r| r.contains("attached picture"))).collect();
        assert_eq!(pictures.len(), 1, "{file}: {tracks:?}");
        assert_eq!(pictures[0]["served"], false);
        assert!(matches!(pictures[0]["codec"].as_str(), Some("png" | "mjpeg")), "{file}: {}", pictures[0]);
        if file.ends_with(".mkv") {
            assert!(
                tracks
                    .iter()
                    .any(|t| t["codec"] == "ttf" && t["reason"].as_str().is_some_and(|r| r.contains("attachment"))),
                "{file}: the font attachment: {tracks:?}"
            );
        }
        assert!(!tree.keys().any(|k| k.starts_with("t1")), "{file}: the picture got a playlist or segments");
        // FFmpeg plays the presentation: every audio frame of the source, no error.
        let o = run_ok(
            Command::new("ffmpeg")
                .args(["-v", "error", "-i"])
                .arg(out.join("master.m3u8"))
                .args(["-map", "0", "-f", "null", "-"]),
        )
        .expect("ffmpeg decodes the presentation");
        assert!(o.stderr.is_empty(), "{file}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn variable_frame_rate_with_b_frames_lasts_as_long_as_it_is_shown() {
    let file = "vfr_bframes.mp4";
    let (_, tree) = crawled(file);
    let master = MasterPlaylist::parse(&text(&tree, "master.m3u8"));
    assert_eq!(attr(&master.variants[0].0, "FRAME-RATE").map(|a| a.value.as_str()), Some("60.000"));
    // Two frames of reorder delay are 33 ms at 60 fps, 67 ms at 30 fps: the source's decode
    // times span 33 ms less than its pictures are shown.
    let probe = ffprobe(&media_dir().join(file)).expect("ffprobe");
    let v = probe.streams.iter().find(|s| s.codec_type == "video").expect("video");
    let (ts, deltas) = stts(&media_dir().join(file));
    let decode_span = deltas.iter().map(|&d| u64::from(d)).sum::<u64>() as f64 / f64::from(ts);
    let pts: Vec<i64> = v.packets.iter().filter_map(|p| p.pts).collect();
    let first = *pts.iter().min().unwrap();
    let shown_end = *pts.iter().max().unwrap() + i64::from(*deltas.last().unwrap());
    let shown = v.secs(shown_end - first);
    assert!((shown - decode_span).abs() > 0.03, "the test file lost its point: {shown} vs {decode_span}");
    // Every EXTINF is the span its pictures are shown (from its earliest picture to the next
    // segment's), and the total is the video's duration.
    let video = MediaPlaylist::parse(&text(&tree, "t0.m3u8"));
    let init = parse_init(&tree["t0_init.mp4"]).expect("init");
    let mut at = 0;
    let mut starts = Vec::new();
    for seg in &video.segments {
        let n: usize = parse_segment(&tree[&seg.2], &init).expect("segment").iter().map(|f| f.samples.len()).sum();
        starts.push(*pts[at..at + n].iter().min().unwrap());
        at += n;
    }
    assert_eq!(at, pts.len(), "samples served");
    starts.push(shown_end);
    for (k, seg) in video.segments.iter().enumerate() {
        let want = v.secs(starts[k + 1] - starts[k]);
        assert!((seg.1 - want).abs() < 1e-6, "segment {k}: EXTINF {} but its pictures are shown for {want:.6}s", seg.0);
    }
    assert!((video.total() - shown).abs() < 1e-5, "total {} vs {shown}", video.total());
}

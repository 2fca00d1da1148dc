//! What a viewer sees of the picture (issue #14): a phone's rotated recording, an anamorphic DVD
//! rip, HDR10 and HLG video, a VP9 WebM and CEA-608 captions carried in the video. Each test file
//! (scripts/gen-media.sh) is crawled with `hls-dump` into target/test-out/picture/<file>/, and
//! the init segment, the master playlist and FFmpeg's reading of the output (ffprobe of the init
//! and first media segment concatenated, or of the media playlist) are compared with the source.
//! The real-browser half (hls.js in Chromium shows the source's picture size, and plays VP9 with
//! picture) is in tests/browser.rs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// Crawls `file` (once per test, into a directory of its own) and returns its output directory.
fn crawled(file: &str) -> PathBuf {
    let setup = setup(&[file]).unwrap_or_else(|e| panic!("setup: {e}"));
    // One directory per test (the test thread's name): two tests crawling the same file at once
    // must not remove each other's output.
    let test = std::thread::current().name().unwrap_or("test").replace("::", "-");
    let out = out_root().join("picture").join(format!("{file}.{}.{test}", std::process::id()));
    crawl(&setup.hls_dump, &media_dir().join(file), &out).unwrap_or_else(|e| panic!("{file}: {e}"));
    out
}

/// The master playlist's only video variant's attributes.
fn video_variant(dir: &Path) -> Vec<Attr> {
    let text = std::fs::read_to_string(dir.join("master.m3u8")).expect("master.m3u8");
    let m = MasterPlaylist::parse(&text);
    let mut video: Vec<Vec<Attr>> =
        m.variants.iter().filter(|(a, _)| attr(a, "RESOLUTION").is_some()).map(|(a, _)| a.clone()).collect();
    assert!(!video.is_empty(), "{}: no video variant in\n{text}", dir.display());
    video.swap_remove(0)
}

fn attr_value(a: &[Attr], name: &str) -> Option<String> {
    attr(a, name).map(|x| x.value.clone())
}

/// The served video track's init segment and first media segment (its playlist is named by the
/// video variant).
fn video_files(dir: &Path) -> (Vec<u8>, Vec<u8>, String) {
    let text = std::fs::read_to_string(dir.join("master.m3u8")).unwrap();
    let m = MasterPlaylist::parse(&text);
    let (_, uri) = m.variants.iter().find(|(a, _)| attr(a, "RESOLUTION").is_some()).expect("video variant");
    let n = stream_of(uri).expect("t<N>.m3u8");
    let init = std::fs::read(dir.join(format!("t{n}_init.mp4"))).unwrap();
    let seg = std::fs::read(dir.join(format!("t{n}_0.m4s"))).unwrap();
    (init, seg, uri.clone())
}

/// Body bytes of the box at `p` (from the top of `d`), e.g. `moov/trak/tkhd`.
fn box_body(d: &[u8], p: &[&[u8; 4]]) -> Result<Vec<u8>, String> {
    let top = boxes(d, 0, d.len())?;
    let first =
        top.iter().find(|b| b.is(p[0])).copied().ok_or_else(|| format!("no {}", String::from_utf8_lossy(p[0])))?;
    let b = path(d, &first, &p[1..])?;
    Ok(d[b.body..b.end].to_vec())
}

/// The boxes after the configuration box inside the visual sample entry, as (type, body).
fn entry_children(init: &[u8]) -> Vec<(String, Vec<u8>)> {
    let stsd = box_body(init, &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]).unwrap();
    // stsd: version/flags, entry_count, then the entry; visual fields are 78 bytes after its header.
    let entry = &stsd[8..];
    let size = u32_at(entry, 0).unwrap() as usize;
    let kids = boxes(entry, 8 + 78, size).unwrap();
    kids.iter().map(|b| (b.name(), entry[b.body..b.end].to_vec())).collect()
}

/// ffprobe's JSON for the video stream of init + first segment (stream fields and side data).
fn probe_output(dir: &Path, init: &[u8], seg: &[u8]) -> Value {
    let f = dir.join("video-init-seg0.mp4");
    std::fs::write(&f, [init, seg].concat()).unwrap();
    probe_json(&f)
}

fn probe_json(f: &Path) -> Value {
    let out = run_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
            .arg(
                "stream=width,height,sample_aspect_ratio,color_range,color_space,color_transfer,color_primaries:\
                 stream_side_data",
            )
            .args(["-of", "json"])
            .arg(f),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"][0].clone()
}

fn side_data<'a>(stream: &'a Value, kind: &str) -> Option<&'a Value> {
    stream["side_data_list"].as_array()?.iter().find(|s| s["side_data_type"].as_str() == Some(kind))
}

/// The `tkhd` display matrix (9 signed 32-bit values) and its width and height (integer parts).
fn tkhd_matrix_and_size(init: &[u8]) -> ([i32; 9], u32, u32) {
    let tkhd = box_body(init, &[b"moov", b"trak", b"tkhd"]).unwrap();
    assert_eq!(tkhd[0], 0, "tkhd version 0");
    let mut m = [0i32; 9];
    for (i, v) in m.iter_mut().enumerate() {
        *v = u32_at(&tkhd, 40 + 4 * i).unwrap() as i32;
    }
    (m, u32_at(&tkhd, 76).unwrap() >> 16, u32_at(&tkhd, 80).unwrap() >> 16)
}

/// The source's own `tkhd` matrix of its first video track (an MP4 source).
fn source_matrix(file: &str) -> [i32; 9] {
    let d = std::fs::read(media_dir().join(file)).unwrap();
    let top = boxes(&d, 0, d.len()).unwrap();
    let moov = top.iter().find(|b| b.is(b"moov")).unwrap();
    for trak in children(&d, moov).unwrap().iter().filter(|b| b.is(b"trak")) {
        let hdlr = path(&d, trak, &[b"mdia", b"hdlr"]).unwrap();
        if &d[hdlr.body + 8..hdlr.body + 12] == b"vide" {
            let tkhd = one(&d, trak, b"tkhd").unwrap();
            let mut m = [0i32; 9];
            for (i, v) in m.iter_mut().enumerate() {
                *v = u32_at(&d, tkhd.body + 40 + 4 * i).unwrap() as i32;
            }
            return m;
        }
    }
    panic!("{file}: no video track");
}

#[test]
fn phone_video_is_not_sideways() {
    let dir = crawled("phone_rotated.mp4");
    let (init, seg, _) = video_files(&dir);
    let (m, w, h) = tkhd_matrix_and_size(&init);
    let want = source_matrix("phone_rotated.mp4");
    assert_eq!(m, want, "the init's tkhd matrix is the source's");
    assert_ne!(want[..2], [0x10000, 0], "the source really is rotated");
    assert_eq!((w, h), (320, 180), "tkhd size: the stored picture before the matrix");
    let s = probe_output(&dir, &init, &seg);
    let rot = side_data(&s, "Display Matrix").and_then(|d| d["rotation"].as_i64());
    assert_eq!(rot, Some(-90), "ffprobe of the output: {s}");
    let src = probe_json(&media_dir().join("phone_rotated.mp4"));
    assert_eq!(rot, side_data(&src, "Display Matrix").and_then(|d| d["rotation"].as_i64()));
    assert_eq!(attr_value(&video_variant(&dir), "RESOLUTION").as_deref(), Some("180x320"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn anamorphic_video_is_not_squeezed() {
    // MP4 (pasp), Matroska (DisplayWidth/Height), MPEG-TS (only the SPS VUI says it).
    for file in ["anamorphic.mp4", "anamorphic.mkv", "anamorphic.ts"] {
        let dir = crawled(file);
        let (init, seg, _) = video_files(&dir);
        let kids = entry_children(&init);
        let pasp = kids.iter().find(|(k, _)| k == "pasp").unwrap_or_else(|| panic!("{file}: no pasp in {kids:?}"));
        assert_eq!((u32_at(&pasp.1, 0).unwrap(), u32_at(&pasp.1, 4).unwrap()), (64, 45), "{file}: pasp");
        let (m, w, h) = tkhd_matrix_and_size(&init);
        assert_eq!((m[0], m[4], w, h), (0x10000, 0x10000, 1024, 576), "{file}: tkhd");
        let s = probe_output(&dir, &init, &seg);
        assert_eq!(s["sample_aspect_ratio"].as_str(), Some("64:45"), "{file}: {s}");
        assert_eq!((s["width"].as_u64(), s["height"].as_u64()), (Some(720), Some(576)));
        assert_eq!(attr_value(&video_variant(&dir), "RESOLUTION").as_deref(), Some("1024x576"), "{file}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    // A square-pixel, unrotated source keeps its size, with no pasp and the identity matrix.
    let dir = crawled("h264_aac.mp4");
    let (init, ..) = video_files(&dir);
    assert!(entry_children(&init).iter().all(|(k, _)| k != "pasp" && k != "colr"));
    let (m, w, h) = tkhd_matrix_and_size(&init);
    assert_eq!((m, w, h), ([0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000], 640, 360));
    assert_eq!(attr_value(&video_variant(&dir), "RESOLUTION").as_deref(), Some("640x360"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hdr_video_is_not_shown_as_sdr() {
    let colour_fields = ["color_primaries", "color_transfer", "color_space", "color_range"];
    // hdr10_bitstream.mp4 has no colr: its colour is only in the SPS VUI, its HDR10 metadata only
    // in the SEI.
    for (file, range, hdr10) in [
        ("hdr10.mp4", "PQ", true),
        ("hdr10.mkv", "PQ", true),
        ("hdr10_bitstream.mp4", "PQ", true),
        ("hlg.mp4", "HLG", false),
        ("h264_aac.mp4", "SDR", false),
    ] {
        let dir = crawled(file);
        let (init, seg, _) = video_files(&dir);
        let out = probe_output(&dir, &init, &seg);
        let src = probe_json(&media_dir().join(file));
        for f in colour_fields {
            assert_eq!(out[f], src[f], "{file}: {f} of the output vs the source");
        }
        let kids = entry_children(&init);
        let colr = kids.iter().find(|(k, _)| k == "colr");
        if range == "SDR" {
            assert!(colr.is_none(), "{file}: no colour declared, no colr");
        } else {
            // nclx with BT.2020 primaries and matrix and the source's transfer.
            let c = &colr.unwrap_or_else(|| panic!("{file}: no colr in {kids:?}")).1;
            let transfer = if range == "PQ" { 16 } else { 18 };
            assert_eq!(
                (&c[..4], u16_at(c, 4), u16_at(c, 6), u16_at(c, 8), c[10]),
                (&b"nclx"[..], Ok(9), Ok(transfer), Ok(9), 0)
            );
        }
        let mdcv = kids.iter().find(|(k, _)| k == "mdcv");
        let clli = kids.iter().find(|(k, _)| k == "clli");
        assert_eq!((mdcv.is_some(), clli.is_some()), (hdr10, hdr10), "{file}: mdcv/clli only for HDR10");
        if hdr10 {
            // master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1), max-cll=1000,400
            let m = &mdcv.unwrap().1;
            let v: Vec<u16> = (0..8).map(|i| u16_at(m, 2 * i).unwrap()).collect();
            assert_eq!(v, [13250, 34500, 7500, 3000, 34000, 16000, 15635, 16450], "{file}: mdcv primaries");
            assert_eq!((u32_at(m, 16), u32_at(m, 20)), (Ok(10_000_000), Ok(1)), "{file}: mdcv luminance");
            assert_eq!(clli.unwrap().1, [0x03, 0xE8, 0x01, 0x90], "{file}: clli 1000/400");
            let md = side_data(&out, "Mastering display metadata").unwrap_or_else(|| panic!("{file}: {out}"));
            assert_eq!(md["max_luminance"].as_str(), Some("10000000/10000"));
            let cll = side_data(&out, "Content light level metadata").unwrap_or_else(|| panic!("{file}: {out}"));
            assert_eq!((cll["max_content"].as_i64(), cll["max_average"].as_i64()), (Some(1000), Some(400)));
        }
        let text = std::fs::read_to_string(dir.join("master.m3u8")).unwrap();
        let m = MasterPlaylist::parse(&text);
        for (a, _) in m.variants.iter().filter(|(a, _)| attr(a, "RESOLUTION").is_some()) {
            assert_eq!(attr_value(a, "VIDEO-RANGE").as_deref(), Some(range), "{file}: every variant\n{text}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn vp9_webm_is_not_served_audio_only() {
    // The WebM download, and the same streams in MP4 (whose vpcC is the source's).
    for file in ["vp9_opus.webm", "vp9_opus.mp4"] {
        let dir = crawled(file);
        let v = video_variant(&dir);
        let codecs = attr_value(&v, "CODECS").unwrap();
        // Profile 0, level 1.1 (320x180 at 25 fps), 8-bit 4:2:0, colour unspecified, limited range.
        assert_eq!(codecs, "vp09.00.11.08.01.02.02.02.00,opus", "{file}");
        let (init, _, uri) = video_files(&dir);
        let stsd = box_body(&init, &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]).unwrap();
        assert_eq!(&stsd[12..16], b"vp09", "{file}");
        let vpcc = entry_children(&init).into_iter().next().unwrap();
        assert_eq!((vpcc.0.as_str(), vpcc.1.as_slice()), ("vpcC", &[1, 0, 0, 0, 0, 11, 0x82, 2, 2, 2, 0, 0][..]));
        // FFmpeg decodes every frame of the source from the served playlist.
        let frames = |p: &Path| {
            let o = run_ok(
                Command::new("ffprobe")
                    .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries"])
                    .args(["stream=nb_read_frames", "-of", "csv=p=0"])
                    .arg(p),
            )
            .unwrap();
            // (The HLS demuxer lists the stream once more under its program.)
            String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").trim().to_string()
        };
        let want = frames(&media_dir().join(file));
        assert_eq!(want, "250", "{file}");
        assert_eq!(frames(&dir.join(uri)), want, "{file}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn captions_in_the_video_are_offered() {
    // CEA-608 in MP4 and MPEG-TS; CEA-608 and CEA-708 (SERVICE1 needs EXT-X-VERSION 7).
    for (file, ids, version) in [
        ("captions.mp4", &["CC1"][..], "1"),
        ("captions.ts", &["CC1"][..], "1"),
        ("captions708.mp4", &["CC1", "SERVICE1"][..], "7"),
    ] {
        let dir = crawled(file);
        let text = std::fs::read_to_string(dir.join("master.m3u8")).unwrap();
        let m = MasterPlaylist::parse(&text);
        assert_eq!(m.versions, [version], "{file}\n{text}");
        let cc: Vec<&Vec<Attr>> =
            m.media.iter().filter(|a| attr_value(a, "TYPE").as_deref() == Some("CLOSED-CAPTIONS")).collect();
        let got: Vec<String> = cc.iter().filter_map(|a| attr_value(a, "INSTREAM-ID")).collect();
        assert_eq!(got, ids, "{file}: CLOSED-CAPTIONS renditions\n{text}");
        for a in &cc {
            assert_eq!(attr_value(a, "GROUP-ID").as_deref(), Some("cc"));
            assert!(attr(a, "URI").is_none(), "CLOSED-CAPTIONS has no URI");
        }
        for (a, _) in &m.variants {
            let c = attr(a, "CLOSED-CAPTIONS").unwrap_or_else(|| panic!("{file}: variant without CLOSED-CAPTIONS"));
            assert!(c.quoted && c.value == "cc", "{file}: {c:?}");
        }
        // The captions are still in the served video: FFmpeg's decoder finds the same text.
        let (_, _, uri) = video_files(&dir);
        let srt = |p: &Path| {
            let graph = format!("movie={}[out0+subcc]", p.display().to_string().replace(':', "\\:"));
            let o = run_ok(
                Command::new("ffmpeg")
                    .args(["-v", "error", "-f", "lavfi", "-i", &graph, "-map", "0:1", "-f", "srt", "-"]),
            )
            .unwrap();
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let served = srt(&dir.join(&uri));
        assert!(served.contains("HELLO"), "{file}: decoded captions {served:?}");
        assert_eq!(served, srt(&media_dir().join(file)), "{file}: same captions as the source");
        let _ = std::fs::remove_dir_all(&dir);
    }
    // No captions: every video variant says so.
    let dir = crawled("h264_aac.mp4");
    let m = MasterPlaylist::parse(&std::fs::read_to_string(dir.join("master.m3u8")).unwrap());
    assert!(m.media.iter().all(|a| attr_value(a, "TYPE").as_deref() != Some("CLOSED-CAPTIONS")));
    assert!(!m.variants.is_empty());
    for (a, _) in &m.variants {
        let c = attr(a, "CLOSED-CAPTIONS").expect("CLOSED-CAPTIONS on a video variant");
        assert!(!c.quoted && c.value == "NONE", "{c:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `(timescale, edit list media time, first tfdt, first sample's composition offset)` of a
/// served track: its init segment and first media segment.
fn track_timing(init: &[u8], seg: &[u8]) -> (u32, i64, i64, i64) {
    let mdhd = box_body(init, &[b"moov", b"trak", b"mdia", b"mdhd"]).unwrap();
    let timescale = if mdhd[0] == 1 { u32_at(&mdhd, 20) } else { u32_at(&mdhd, 12) }.unwrap();
    let media_time = match box_body(init, &[b"moov", b"trak", b"edts", b"elst"]) {
        Ok(e) if e[0] == 1 => u64_at(&e, 16).unwrap() as i64,
        Ok(e) => u32_at(&e, 12).unwrap() as i32 as i64,
        Err(_) => 0,
    };
    let tfdt = box_body(seg, &[b"moof", b"traf", b"tfdt"]).unwrap();
    let tfdt = if tfdt[0] == 1 { u64_at(&tfdt, 4).unwrap() } else { u32_at(&tfdt, 4).unwrap() as u64 } as i64;
    let trun = box_body(seg, &[b"moof", b"traf", b"trun"]).unwrap();
    let flags = u32_at(&trun, 0).unwrap() & 0xff_ffff;
    let mut at = 8 + 4 * ((flags & 1) + ((flags >> 2) & 1)) as usize;
    at += 4 * ((flags & 0x100 != 0) as usize + (flags & 0x200 != 0) as usize + (flags & 0x400 != 0) as usize);
    let cto = if flags & 0x800 != 0 { u32_at(&trun, at).unwrap() as i32 as i64 } else { 0 };
    (timescale, media_time, tfdt, cto)
}

/// The source's first packet time (s) of its first video (`v`) or audio (`a`) stream.
fn source_first_pts(file: &str, sel: &str) -> f64 {
    let o = run_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", sel, "-show_entries", "packet=pts_time"])
            .args(["-read_intervals", "%+#1", "-of", "csv=p=0"])
            .arg(media_dir().join(file)),
    )
    .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

#[test]
fn webm_video_does_not_lose_its_first_seconds_when_the_audio_starts_before_it() {
    // vp9_opus.webm: Opus starts at -7 ms (its codec delay), the VP9 (no reordering) at +7 ms,
    // so the shared shift comes from the audio. hls.js ignores edit lists and offsets everything
    // by the video's first tfdt: a video edit list larger than the first frame's composition
    // offset put the first keyframe before 0, and Chromium dropped the whole first GOP (2 s).
    // The MP4 of the same streams (no negative start) is the control.
    for file in ["vp9_opus.webm", "vp9_opus.mp4"] {
        let dir = crawled(file);
        let (vinit, vseg, _) = video_files(&dir);
        let (vts, velst, vtfdt, vcto) = track_timing(&vinit, &vseg);
        assert!(
            velst <= vcto,
            "{file}: the video's edit list removes {velst} ticks but its first frame's composition offset is {vcto}: \
             a player that ignores edit lists starts it before 0"
        );
        let text = std::fs::read_to_string(dir.join("master.m3u8")).unwrap();
        let m = MasterPlaylist::parse(&text);
        let audio_uri = m
            .media
            .iter()
            .find(|a| attr_value(a, "TYPE").as_deref() == Some("AUDIO"))
            .and_then(|a| attr_value(a, "URI"))
            .expect("audio rendition");
        let n = stream_of(&audio_uri).unwrap();
        let ainit = std::fs::read(dir.join(format!("t{n}_init.mp4"))).unwrap();
        let aseg = std::fs::read(dir.join(format!("t{n}_0.m4s"))).unwrap();
        let (ats, aelst, atfdt, acto) = track_timing(&ainit, &aseg);
        // Applying the edit lists (Chromium, Safari, FFmpeg): each track starts at the source's time.
        let video_start = (vtfdt + vcto - velst) as f64 / vts as f64;
        let audio_start = (atfdt + acto - aelst) as f64 / ats as f64;
        let (want_v, want_a) = (source_first_pts(file, "v"), source_first_pts(file, "a"));
        assert!(
            (video_start - want_v).abs() < 1e-4,
            "{file}: video starts at {video_start} s, the source's at {want_v} s"
        );
        assert!(
            (audio_start - want_a).abs() < 1e-4,
            "{file}: audio starts at {audio_start} s, the source's at {want_a} s"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Faults while serving (issue #18): a file truncated, replaced or deleted while its presentation
//! is served, reads that fail or come back short in the middle of a segment (the
//! `fault-injection` feature: `cargo test --release --features fault-injection --test faults`),
//! and FFmpeg decoder errors in the middle of a transcoded segment. Each request either fails
//! with a clear status or returns exactly the bytes the intact file gives (never a wrong byte,
//! never a partial buffer as success), and the same context keeps serving other files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{ensure_media, parse_init, parse_segment, root};
use hls::engine::Media;
use hls::{Config, Context, ErrorKind};

fn scratch(test: &str) -> PathBuf {
    let d = root().join("target/test-out/faults").join(test);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn media(name: &str) -> PathBuf {
    root().join("target/media").join(name)
}

/// A context that caches nothing: every request reads the file.
fn uncached() -> Context {
    Context::new(Config { cache_bytes: 0, ..Config::default() })
}

/// Every name of a presentation (playlists first), from its playlists.
fn names(ctx: &Context, m: &Media) -> Vec<String> {
    let text = |n: &str| String::from_utf8_lossy(&ctx.get(m, n).expect(n).0).into_owned();
    let master = text("master.m3u8");
    let mut playlists: Vec<String> =
        master.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(String::from).collect();
    for l in master.lines().filter(|l| l.starts_with("#EXT-X-MEDIA")) {
        if let Some(u) = l.split("URI=\"").nth(1).and_then(|r| r.split('"').next()) {
            playlists.push(u.to_string());
        }
    }
    playlists.sort();
    playlists.dedup();
    let mut out = vec!["master.m3u8".to_string()];
    for p in &playlists {
        out.push(p.clone());
        for l in text(p).lines() {
            if let Some(u) = l.strip_prefix("#EXT-X-MAP:URI=\"").and_then(|r| r.split('"').next()) {
                out.push(u.to_string());
            } else if !l.starts_with('#') && !l.is_empty() {
                out.push(l.to_string());
            }
        }
    }
    out.dedup();
    out
}

/// Every name and its bytes, from a fresh context on the intact file.
fn reference(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let ctx = uncached();
    let m = ctx.open(path).expect("open the intact file");
    names(&ctx, &m).into_iter().map(|n| (n.clone(), ctx.get(&m, &n).expect(&n).0.to_vec())).collect()
}

/// A copy of the test medium `name` in `dir`.
fn copy(name: &str, dir: &Path) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(media(name), &p).expect("copy media");
    p
}

/// Serves every name of `want` from `m`: each is the reference's bytes or one of the `allowed`
/// errors. Returns how many failed.
fn serve_all(ctx: &Context, m: &Media, want: &BTreeMap<String, Vec<u8>>, allowed: &[ErrorKind], what: &str) -> usize {
    let mut failed = 0;
    for (n, bytes) in want {
        match ctx.get(m, n) {
            Ok((got, _)) => assert!(
                got.as_slice() == bytes.as_slice(),
                "{what}: {n}: success with other bytes than the intact file's"
            ),
            Err(e) => {
                assert!(allowed.contains(&e.kind), "{what}: {n}: {:?} ({e}), expected one of {allowed:?}", e.kind);
                failed += 1;
            }
        }
    }
    failed
}

/// The same context still serves another file, byte for byte.
fn still_serves_others(ctx: &Context) {
    let other = media("h264_aac.mkv");
    let want = reference(&other);
    let m = ctx.open(&other).expect("the context opens another file");
    assert_eq!(serve_all(ctx, &m, &want, &[], "another file"), 0);
}

#[test]
fn file_truncated_while_served_fails_with_file_changed_never_short_bytes() {
    ensure_media(&["h264_aac.mp4", "h264_aac.mkv", "dts.mkv"]).unwrap();
    let dir = scratch("truncated");
    let ctx = uncached();
    for name in ["h264_aac.mp4", "dts.mkv"] {
        let want = reference(&media(name));
        let p = copy(name, &dir);
        let m = ctx.open(&p).unwrap();
        assert_eq!(serve_all(&ctx, &m, &want, &[], "intact copy"), 0);
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(f.metadata().unwrap().len() / 2).unwrap();
        drop(f);
        // Playlists and init segments are made from the index (no read): they may still be
        // served; every media segment reads the file, and says it changed.
        let failed = serve_all(&ctx, &m, &want, &[ErrorKind::FileChanged], name);
        let reading = want.keys().filter(|n| n.ends_with(".m4s")).count();
        assert_eq!(failed, reading, "{name}: every media segment of the truncated file fails");
        // Opened again, the half file is what it is: a clear refusal or a presentation of what
        // is left, never the old one.
        match ctx.open(&p) {
            Ok(m2) => assert!(
                m2.index.duration_us < m.index.duration_us,
                "{name}: the half file still has the whole duration"
            ),
            Err(e) => assert_eq!(e.kind, ErrorKind::InvalidMedia, "{name}: {e}"),
        }
    }
    still_serves_others(&ctx);
}

#[test]
fn file_replaced_while_served_keeps_serving_the_version_that_was_opened() {
    ensure_media(&["h264_aac.mp4", "hevc_aac.mp4", "h264_aac.mkv"]).unwrap();
    let dir = scratch("replaced");
    let ctx = uncached();
    let (old, new) = (reference(&media("h264_aac.mp4")), reference(&media("hevc_aac.mp4")));
    let p = copy("h264_aac.mp4", &dir);
    let m = ctx.open(&p).unwrap();
    assert_eq!(ctx.get(&m, "t0_0.m4s").unwrap().0.as_slice(), old["t0_0.m4s"].as_slice());
    // Replaced as deployments do: a new file renamed over the old name.
    let tmp = dir.join("new.tmp");
    std::fs::copy(media("hevc_aac.mp4"), &tmp).unwrap();
    std::fs::rename(&tmp, &p).unwrap();
    // The open handle reads the file it indexed (its descriptor), never the new one's bytes.
    let failed = serve_all(&ctx, &m, &old, &[ErrorKind::FileChanged], "old handle after the rename");
    assert!(failed < old.len(), "the old version is still readable through its descriptor");
    // Opened again: the new file.
    let m2 = ctx.open(&p).unwrap();
    assert_eq!(serve_all(&ctx, &m2, &new, &[], "reopened"), 0);
    still_serves_others(&ctx);
}

#[test]
fn file_deleted_while_served_serves_what_it_opened_or_says_io() {
    ensure_media(&["h264_aac.mp4", "dts.mkv", "h264_aac.mkv"]).unwrap();
    let dir = scratch("deleted");
    let ctx = uncached();
    for name in ["h264_aac.mp4", "dts.mkv"] {
        let want = reference(&media(name));
        let p = copy(name, &dir);
        let m = ctx.open(&p).unwrap();
        assert_eq!(serve_all(&ctx, &m, &want, &[], "intact copy"), 0);
        std::fs::remove_file(&p).unwrap();
        // Copied samples come through the open descriptor; what FFmpeg opens by path
        // (transcoded audio) may be gone: an I/O error, never other bytes.
        serve_all(&ctx, &m, &want, &[ErrorKind::Io, ErrorKind::FileChanged], name);
        let e = ctx.open(&p).err().expect("a deleted file does not open");
        assert_eq!(e.kind, ErrorKind::Io, "{e}");
    }
    still_serves_others(&ctx);
}

/// `dts.mkv` (DTS, served as AAC made on demand) with the audio packets of the given segment
/// (presentation times `from..to` seconds) overwritten: every one, or only the middle one.
fn dts_damaged(dir: &Path, from: f64, to: f64, all: bool) -> PathBuf {
    let src = media("dts.mkv");
    let out = common::run_ok(
        std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "a:0",
                "-show_entries",
                "packet=pts_time,pos,size",
                "-of",
                "csv=p=0",
            ])
            .arg(&src),
    )
    .unwrap();
    let packets: Vec<(f64, u64, usize)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((f.first()?.parse().ok()?, f.get(2)?.parse().ok()?, f.get(1)?.parse().ok()?))
        })
        .filter(|(t, _, _)| *t >= from && *t < to)
        .collect();
    assert!(packets.len() > 4, "DTS packets in {from}..{to} s: {packets:?}");
    let chosen: Vec<_> = if all { packets.clone() } else { vec![packets[packets.len() / 2]] };
    let mut bytes = std::fs::read(&src).unwrap();
    for (_, pos, size) in chosen {
        for (i, b) in bytes[pos as usize..pos as usize + size].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(151) ^ 0x5a;
        }
    }
    let p = dir.join(if all { "dts_all.mkv" } else { "dts_one.mkv" });
    std::fs::write(&p, bytes).unwrap();
    p
}

/// AAC frames in a media segment (with its init segment).
fn samples_of(segment: &[u8], init: &[u8]) -> usize {
    let init = parse_init(init).expect("init segment");
    parse_segment(segment, &init).expect("media segment").iter().map(|f| f.samples.len()).sum()
}

#[test]
fn decoder_error_inside_a_transcoded_segment_is_concealed_in_full_or_fails_clearly() {
    ensure_media(&["dts.mkv", "h264_aac.mkv"]).unwrap();
    let dir = scratch("decoder");
    let ctx = uncached();
    let want = reference(&media("dts.mkv"));
    let info: serde_json::Value = {
        let m = ctx.open(&media("dts.mkv")).unwrap();
        serde_json::from_str(&m.info_json()).unwrap()
    };
    let track = info["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["delivery"] == "transcode-aac")
        .expect("dts.mkv has a transcoded track");
    let prefix = format!("t{}", track["rendition"].as_str().unwrap());
    let seg1 = format!("{prefix}_1.m4s");
    let init = want[&format!("{prefix}_init.mp4")].clone();
    // Segment 1's time span, from its playlist.
    let pl = common::MediaPlaylist::parse(&String::from_utf8_lossy(&want[&format!("{prefix}.m3u8")]));
    let d0 = pl.segments[0].1;
    let (from, to) = (d0, d0 + pl.segments[1].1);

    // One damaged packet in the middle: FFmpeg's decoder rejects it and its time is silent; the
    // segment is still whole (as many AAC frames as from the intact file), never cut short.
    let p = dts_damaged(&dir, from + 0.5, to - 0.5, false);
    let m = ctx.open(&p).unwrap();
    match ctx.get(&m, &seg1) {
        Ok((got, _)) => assert_eq!(
            samples_of(&got, &init),
            samples_of(&want[&seg1], &init),
            "a segment with one undecodable packet lost AAC frames (a partial buffer as success)"
        ),
        Err(e) => assert_eq!(e.kind, ErrorKind::InvalidMedia, "{e}"),
    }
    // Every packet of the segment damaged: nothing of its own range decodes (only the pre- and
    // post-roll would): the request says so instead of serving 6 s of made-up silence.
    let p = dts_damaged(&dir, from, to, true);
    let m = ctx.open(&p).unwrap();
    let e = ctx.get(&m, &seg1).expect_err("a segment of which nothing decodes is not served as silence");
    assert_eq!(e.kind, ErrorKind::InvalidMedia, "{e}");
    // The segments around it, and other files, are served.
    for n in [format!("{prefix}_3.m4s"), format!("{prefix}_init.mp4")] {
        assert_eq!(ctx.get(&m, &n).unwrap().0.as_slice(), want[&n].as_slice(), "{n}");
    }
    still_serves_others(&ctx);
}

#[cfg(feature = "fault-injection")]
mod injected {
    use super::*;
    use hls::container::read::fault::{arm, disarm, injected, Fault};

    /// Faults each positioned read of serving `name` in turn (the 1st, the 2nd, ... until the
    /// request needs no more): each faulted request either fails with one of `want` or, read
    /// again another way (Matroska blocks through FFmpeg), returns exactly `good`; the next
    /// request is whole. Returns (requests failed, requests recovered).
    fn fault_each_read(
        ctx: &Context,
        m: &std::sync::Arc<Media>,
        path: &Path,
        name: &str,
        good: &[u8],
        fault: Fault,
        want: &[ErrorKind],
    ) -> (u64, u64) {
        let (mut failed, mut recovered) = (0, 0);
        for pass in 0..64 {
            let before = injected();
            arm(path, pass, fault).unwrap();
            let r = ctx.get(m, name);
            let hit = !disarm(path) && injected() > before;
            match r {
                Ok((got, _)) => {
                    assert_eq!(got.as_slice(), good, "{name}: read {pass} {fault:?}: success with other bytes");
                    recovered += u64::from(hit);
                }
                Err(e) => {
                    assert!(hit, "{name}: failed without a fault: {e}");
                    assert!(want.contains(&e.kind), "{name}: read {pass} {fault:?}: {:?} ({e}), want {want:?}", e.kind);
                    failed += 1;
                }
            }
            // The fault was one read: the same request is whole again.
            assert_eq!(ctx.get(m, name).unwrap().0.as_slice(), good, "{name}: after the fault");
            if !hit {
                break;
            }
        }
        (failed, recovered)
    }

    #[test]
    fn read_failing_or_short_mid_segment_fails_that_request_only() {
        ensure_media(&["h264_aac.mp4", "h264_aac.mkv", "h264_aac_frag.mp4"]).unwrap();
        let dir = scratch("injected");
        let ctx = uncached();
        for name in ["h264_aac.mp4", "h264_aac_frag.mp4", "h264_aac.mkv"] {
            let want = reference(&media(name));
            let p = copy(name, &dir);
            let m = ctx.open(&p).unwrap();
            for seg in ["t0_1.m4s", "t1_1.m4s"] {
                let good = &want[seg];
                let failing = fault_each_read(&ctx, &m, &p, seg, good, Fault::Fail, &[ErrorKind::Io]);
                let short = fault_each_read(&ctx, &m, &p, seg, good, Fault::Short, &[ErrorKind::InvalidMedia]);
                eprintln!("{name} {seg}: failing reads {failing:?}, short reads {short:?} (failed, recovered)");
                if name.ends_with(".mp4") {
                    // Samples read at their table positions: the request fails, with the status
                    // of what happened (I/O error; file shorter than indexed).
                    assert!(failing.0 > 0 && failing.1 == 0, "{name} {seg}: {failing:?}");
                    assert!(short.0 > 0 && short.1 == 0, "{name} {seg}: {short:?}");
                } else {
                    assert!(failing.0 + failing.1 > 0 && short.0 + short.1 > 0, "{name} {seg}: no read faulted");
                }
            }
            // Every fault was one read: the whole presentation is still served.
            assert_eq!(serve_all(&ctx, &m, &want, &[], "after the faults"), 0);
        }
        still_serves_others(&ctx);
    }
}

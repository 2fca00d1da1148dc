//! Bounded resources (issue #18): files whose headers claim far more than they hold, or more
//! than the per-open index ceiling (`hls_config_set_max_index_bytes`) allows, fail to open with a
//! clear status, and the open's peak memory stays small.
//!
//! Each file is crafted here from the test media (an `stsz` patched to claim 2^32 samples, 10 000
//! `trak` boxes, a Matroska element whose size claims 2^56 bytes, a subtitle track of 1 000 000
//! cues made with FFmpeg). Each open runs in a child process (this test binary run again with
//! `BOUNDS_CHILD_OPEN` set) that reports the status and its peak RSS (`VmHWM`) before and after
//! the open, so the growth is the open's alone.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ensure_media, root, run_ok};
use hls::ffi::*;

const MIB: u64 = 1 << 20;

/// What one open in a child process did.
#[derive(Debug)]
struct Opened {
    status: HlsStatus,
    message: String,
    /// Peak RSS growth of the child during the open (and the requests after it), in bytes.
    peak_growth: u64,
}

fn scratch() -> PathBuf {
    let d = root().join("target/test-out/bounds");
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn vm_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmHWM/VmRSS in /proc/self/status")
}

/// In the child: opens `path` through the C API with `max_index_bytes` (0: the default),
/// fetches the master playlist and every name of `names` on success, and prints one line.
fn child_open(path: &str, max_index_bytes: u64, names: &[&str]) {
    let before = vm_kib("VmHWM:");
    let cfg = hls_config_new();
    // SAFETY: cfg, ctx, media and buffers are ours, used on this thread, freed once.
    let (status, message) = unsafe {
        if max_index_bytes > 0 {
            assert_eq!(hls_config_set_max_index_bytes(cfg, max_index_bytes), HlsStatus::HLS_OK);
        }
        let ctx = hls_context_new(cfg);
        hls_config_free(cfg);
        eprintln!("HWM after context: +{} KiB", vm_kib("VmHWM:") - before);
        let cpath = std::ffi::CString::new(path).unwrap();
        let mut m: *mut HlsMedia = std::ptr::null_mut();
        let mut err: *mut HlsError = std::ptr::null_mut();
        let mut st = hls_open_ex(ctx, cpath.as_ptr(), &mut m, &mut err);
        let mut msg = String::new();
        eprintln!("HWM after open: +{} KiB", vm_kib("VmHWM:") - before);
        if st == HlsStatus::HLS_OK {
            for n in std::iter::once(&"master.m3u8").chain(names) {
                let name = std::ffi::CString::new(*n).unwrap();
                let mut buf: HlsBuffer = std::mem::zeroed();
                st = hls_get(m, name.as_ptr(), &mut buf);
                if st != HlsStatus::HLS_OK {
                    msg = format!("{n}: {}", std::ffi::CStr::from_ptr(hls_last_error_message()).to_string_lossy());
                    break;
                }
                hls_free_buffer(&mut buf);
            }
            hls_close(m);
        } else {
            msg = std::ffi::CStr::from_ptr(hls_error_message(err)).to_string_lossy().into_owned();
            hls_error_free(err);
        }
        hls_context_free(ctx);
        (st, msg)
    };
    let after = vm_kib("VmHWM:");
    println!("BOUNDS_RESULT {} {} {}", status as i32, (after - before) * 1024, message.replace('\n', " "));
}

/// Runs [`child_open`] in a child process and parses its line.
fn open_in_child(path: &Path, max_index_bytes: u64, names: &[&str]) -> Opened {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args(["--exact", "child_entry_opens_a_file_and_reports_its_peak", "--nocapture", "--test-threads=1"])
        .env("BOUNDS_CHILD_OPEN", path)
        .env("BOUNDS_CHILD_MAX", max_index_bytes.to_string())
        .env("BOUNDS_CHILD_NAMES", names.join(","))
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.split_once("BOUNDS_RESULT ").map(|(_, r)| r)).unwrap_or_else(|| {
        panic!("child reported nothing ({}):\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr))
    });
    let mut it = line.splitn(3, ' ');
    let code: i32 = it.next().unwrap().parse().unwrap();
    let peak_growth: u64 = it.next().unwrap().parse().unwrap();
    let message = it.next().unwrap_or("").to_string();
    use HlsStatus::*;
    let all = [
        HLS_OK,
        HLS_ERR_NULL_ARGUMENT,
        HLS_ERR_INVALID_UTF8,
        HLS_ERR_INVALID_ARGUMENT,
        HLS_ERR_NOT_FOUND,
        HLS_ERR_IO,
        HLS_ERR_INVALID_MEDIA,
        HLS_ERR_NO_PLAYABLE_TRACKS,
        HLS_ERR_FILE_CHANGED,
        HLS_ERR_UNSUPPORTED,
        HLS_ERR_PANIC,
        HLS_ERR_INTERNAL,
    ];
    let status = all.into_iter().find(|s| *s as i32 == code).expect("a status");
    let o = Opened { status, message, peak_growth };
    eprintln!("{}: {:?} peak +{:.1} MiB: {}", path.display(), o.status, o.peak_growth as f64 / MIB as f64, o.message);
    o
}

/// The child side of [`open_in_child`]; run directly (no `BOUNDS_CHILD_OPEN`), it measures the
/// open of a small valid file, which must succeed and stay small.
#[test]
fn child_entry_opens_a_file_and_reports_its_peak() {
    match std::env::var("BOUNDS_CHILD_OPEN") {
        Ok(path) => {
            let max = std::env::var("BOUNDS_CHILD_MAX").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
            let names = std::env::var("BOUNDS_CHILD_NAMES").unwrap_or_default();
            let names: Vec<&str> = names.split(',').filter(|n| !n.is_empty()).collect();
            child_open(&path, max, &names);
        }
        Err(_) => {
            ensure_media(&["h264_aac.mp4"]).unwrap();
            let o = open_in_child(&root().join("target/media/h264_aac.mp4"), 0, &["t0_0.m4s"]);
            assert_eq!(o.status, HlsStatus::HLS_OK, "{}", o.message);
            assert!(
                o.peak_growth < 64 * MIB,
                "a 1.4 MB file's open and first segment grew the peak RSS by {} bytes",
                o.peak_growth
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// MP4 surgery
// ------------------------------------------------------------------------------------------------

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// (kind, start, size) of the boxes of `b[from..to]`.
fn boxes(b: &[u8], from: usize, to: usize) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = from;
    while at + 8 <= to {
        let size = be32(b, at) as usize;
        let kind: [u8; 4] = b[at + 4..at + 8].try_into().unwrap();
        assert!(size >= 8 && at + size <= to, "a plain 32-bit box");
        out.push((kind, at, size));
        at += size;
    }
    out
}

fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    [&((payload.len() + 8) as u32).to_be_bytes()[..], kind, payload].concat()
}

/// The file with its `moov` replaced by `free` and `new_moov` (a payload) appended at the end,
/// so that no sample offset moves.
fn with_moov_at_end(file: &[u8], new_moov: &[u8]) -> Vec<u8> {
    let (_, at, size) = *boxes(file, 0, file.len()).iter().find(|b| &b.0 == b"moov").expect("moov");
    let mut out = file.to_vec();
    out[at + 4..at + 8].copy_from_slice(b"free");
    let _ = size;
    out.extend(mp4_box(b"moov", new_moov));
    out
}

/// h264_aac.mp4 with its audio track's `stsz` claiming `count` samples of `constant` bytes (0: a
/// table, whose entries are not there).
fn stsz_claiming(count: u32, constant: u32) -> PathBuf {
    let src = std::fs::read(root().join("target/media/h264_aac.mp4")).unwrap();
    let mut f = src.clone();
    let (_, at, size) = *boxes(&src, 0, src.len()).iter().find(|b| &b.0 == b"moov").unwrap();
    let stsz: Vec<usize> = (at..at + size - 4).filter(|&i| &src[i..i + 4] == b"stsz").collect();
    assert_eq!(stsz.len(), 2, "one stsz per track");
    let body = stsz[1] + 4; // the audio track's
    f[body + 4..body + 8].copy_from_slice(&constant.to_be_bytes());
    f[body + 8..body + 12].copy_from_slice(&count.to_be_bytes());
    let p = scratch().join(format!("stsz_{count}_{constant}.mp4"));
    std::fs::write(&p, f).unwrap();
    p
}

// ------------------------------------------------------------------------------------------------
// The tests
// ------------------------------------------------------------------------------------------------

/// Bound on the peak RSS growth of an open that is refused: the files are a few MB, and the
/// refusal comes before any sample list is allocated (what the claims would need is 2^32 × 64
/// bytes = 256 GiB); 64 MiB leaves room for the moov read, FFmpeg's probe and allocator slack.
const REFUSED_PEAK: u64 = 64 * MIB;

#[test]
fn stsz_claiming_four_billion_samples_is_refused_without_allocating_them() {
    ensure_media(&["h264_aac.mp4"]).unwrap();
    // A constant sample size: the claim is checked against the file size before anything else.
    let o = open_in_child(&stsz_claiming(u32::MAX, 1), 0, &[]);
    assert_eq!(o.status, HlsStatus::HLS_ERR_INVALID_MEDIA, "{}", o.message);
    assert!(o.message.contains("stsz claims 4294967295 samples"), "{}", o.message);
    assert!(o.peak_growth < REFUSED_PEAK, "peak grew by {} bytes", o.peak_growth);
    // 2^26 samples of one byte also exceed the 1.4 MB file: refused the same way, never handed to
    // FFmpeg's demuxer (whose index would take 2^26 × 24 bytes = 1.5 GiB).
    let o = open_in_child(&stsz_claiming(1 << 26, 1), 0, &[]);
    assert_eq!(o.status, HlsStatus::HLS_ERR_INVALID_MEDIA, "{}", o.message);
    assert!(o.peak_growth < REFUSED_PEAK, "peak grew by {} bytes", o.peak_growth);
    // A size table whose 2^32 entries are not in the box: corrupt.
    let o = open_in_child(&stsz_claiming(u32::MAX, 0), 0, &[]);
    assert_eq!(o.status, HlsStatus::HLS_ERR_INVALID_MEDIA, "{}", o.message);
    assert!(o.peak_growth < REFUSED_PEAK, "peak grew by {} bytes", o.peak_growth);
}

#[test]
fn file_over_the_index_ceiling_gets_unsupported_and_the_default_opens_it() {
    // A 10-minute file has about 15 000 video and 28 000 audio samples: 43 000 × 64 bytes ≈ 2.6 MiB
    // while indexed, and a 1 MiB ceiling refuses it; the standard 10-second file (a clean
    // checkout has no --long media) has about 720 samples (≈ 46 KiB), and a 16 KiB ceiling
    // refuses it. The default opens either.
    let (long, is_long) = common::long_media_or("long_10min.mp4", "h264_aac.mp4");
    let ceiling = if is_long { MIB } else { 16 << 10 };
    let o = open_in_child(&long, ceiling, &[]);
    assert_eq!(o.status, HlsStatus::HLS_ERR_UNSUPPORTED, "{}", o.message);
    assert!(o.message.contains("max_index_bytes"), "the message names the setting: {}", o.message);
    let o = open_in_child(&long, 0, &["t0_0.m4s"]);
    assert_eq!(o.status, HlsStatus::HLS_OK, "{}", o.message);
}

/// `b` (one box) rebuilt with the payload of its `stbl` (inside `trak`/`mdia`/`minf`) replaced.
fn with_stbl(b: &[u8], stbl: &[u8]) -> Vec<u8> {
    let kind: [u8; 4] = b[4..8].try_into().unwrap();
    match &kind {
        b"stbl" => mp4_box(b"stbl", stbl),
        b"trak" | b"mdia" | b"minf" => {
            let payload: Vec<u8> =
                boxes(b, 8, b.len()).iter().flat_map(|(_, at, size)| with_stbl(&b[*at..at + size], stbl)).collect();
            mp4_box(&kind, &payload)
        }
        _ => b.to_vec(),
    }
}

fn full_box(kind: &[u8; 4], words: &[u32]) -> Vec<u8> {
    let payload: Vec<u8> = std::iter::once(0u32).chain(words.iter().copied()).flat_map(u32::to_be_bytes).collect();
    mp4_box(kind, &payload)
}

#[test]
fn ten_thousand_tracks_are_refused_before_they_are_indexed() {
    ensure_media(&["h264_aac.mp4"]).unwrap();
    let src = std::fs::read(root().join("target/media/h264_aac.mp4")).unwrap();
    let (_, at, size) = *boxes(&src, 0, src.len()).iter().find(|b| &b.0 == b"moov").unwrap();
    let children = boxes(&src, at + 8, at + size);
    let (_, t_at, t_size) = *children.iter().filter(|b| &b.0 == b"trak").nth(1).expect("audio trak");
    // The audio track cut to its first sample: the same sample entry, one-entry tables.
    let trak = &src[t_at..t_at + t_size];
    let stsd_at = (0..trak.len() - 4).find(|&i| &trak[i..i + 4] == b"stsd").unwrap() - 4;
    let stsd = &trak[stsd_at..stsd_at + be32(trak, stsd_at) as usize];
    let mdat = boxes(&src, 0, src.len()).iter().find(|b| &b.0 == b"mdat").unwrap().1 as u32 + 8;
    let stbl = [
        stsd.to_vec(),
        full_box(b"stts", &[1, 1, 1024]),
        full_box(b"stsc", &[1, 1, 1, 1]),
        full_box(b"stsz", &[0, 1, 16]),
        full_box(b"stco", &[1, mdat]),
    ]
    .concat();
    let small = with_stbl(trak, &stbl);
    let mut moov = Vec::new();
    for (kind, c_at, c_size) in &children {
        if kind != b"trak" {
            moov.extend_from_slice(&src[*c_at..c_at + c_size]);
        }
    }
    for _ in 0..10_000 {
        moov.extend_from_slice(&small);
    }
    let p = scratch().join("tracks_10000.mp4");
    std::fs::write(&p, with_moov_at_end(&src, &moov)).unwrap();
    let file_size = std::fs::metadata(&p).unwrap().len();
    let o = open_in_child(&p, 0, &[]);
    assert_eq!(o.status, HlsStatus::HLS_ERR_UNSUPPORTED, "{}", o.message);
    assert!(o.message.contains("more than 1000 tracks"), "{}", o.message);
    // The moov is read whole (its size), then at most 1000 tracks are parsed.
    assert!(
        o.peak_growth < file_size + REFUSED_PEAK,
        "peak grew by {} bytes for a {file_size}-byte file",
        o.peak_growth
    );
}

/// h264_aac.mkv with the 8-byte size at `size_at` set to 2^56 - 2 (the largest known size).
fn mkv_claiming(size_at: usize, name: &str) -> PathBuf {
    let mut f = std::fs::read(root().join("target/media/h264_aac.mkv")).unwrap();
    assert_eq!(f[size_at], 0x01, "an 8-byte EBML size at byte {size_at}");
    f[size_at..size_at + 8].copy_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]);
    let p = scratch().join(name);
    std::fs::write(&p, f).unwrap();
    p
}

#[test]
fn matroska_element_claiming_two_to_the_56_bytes_plays_without_memory_growth() {
    ensure_media(&["h264_aac.mkv"]).unwrap();
    let f = std::fs::read(root().join("target/media/h264_aac.mkv")).unwrap();
    // The Segment (ID 18 53 80 67 after the 40-byte EBML header) and the Void FFmpeg reserves
    // after the SeekHead both have 8-byte sizes.
    assert_eq!(&f[40..44], &[0x18, 0x53, 0x80, 0x67]);
    let void = (44..200).find(|&i| f[i] == 0xEC && f[i + 1] == 0x01).expect("a Void with an 8-byte size");
    // A Segment that claims 2^56 bytes ends, for every reader, at the end of the file: it plays.
    let o = open_in_child(&mkv_claiming(44, "segment_2e56.mkv"), 0, &["t0_0.m4s", "t1_0.m4s"]);
    assert_eq!(o.status, HlsStatus::HLS_OK, "{}", o.message);
    assert!(o.peak_growth < REFUSED_PEAK, "peak grew by {} bytes", o.peak_growth);
    // A Void that claims 2^56 bytes would swallow Info, Tracks and every Cluster; FFmpeg's
    // demuxer resynchronises on the next top-level ID and the file plays.
    let o = open_in_child(&mkv_claiming(void + 1, "void_2e56.mkv"), 0, &["t0_0.m4s", "t1_0.m4s"]);
    assert_eq!(o.status, HlsStatus::HLS_OK, "{}", o.message);
    assert!(o.peak_growth < REFUSED_PEAK, "peak grew by {} bytes", o.peak_growth);
}

/// A Matroska file: audio_only.m4a's audio and an SRT track of `n` cues, 10 ms apart.
fn million_cues() -> PathBuf {
    let n = 1_000_000;
    let p = scratch().join("cues_1000000.mkv");
    if p.is_file() {
        return p;
    }
    let srt = scratch().join("cues_1000000.srt");
    let mut s = String::with_capacity(n * 48);
    let t = |ms: usize| format!("{:02}:{:02}:{:02},{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    for i in 0..n {
        s.push_str(&format!("{}\n{} --> {}\nc{}\n\n", i + 1, t(i * 10), t(i * 10 + 5), i % 10));
    }
    std::fs::write(&srt, s).unwrap();
    let tmp = scratch().join("cues_1000000.tmp.mkv");
    run_ok(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-i"])
            .arg(root().join("target/media/audio_only.m4a"))
            .arg("-i")
            .arg(&srt)
            .args(["-map", "0:a", "-map", "1", "-c:a", "copy", "-c:s", "srt"])
            .arg(&tmp),
    )
    .unwrap();
    std::fs::rename(&tmp, &p).unwrap();
    std::fs::remove_file(&srt).ok();
    p
}

#[test]
fn subtitle_track_of_a_million_cues_opens_within_its_bound_or_hits_the_ceiling() {
    ensure_media(&["audio_only.m4a"]).unwrap();
    let p = million_cues();
    let file_size = std::fs::metadata(&p).unwrap().len();
    // Default ceiling: it opens and serves a subtitle segment. Each cue costs its 48-byte pending
    // record and text while extracted, then its 40-byte cue, text and tree node (about 120
    // bytes in all, 120 MB for a million): 256 MiB bounds the open with FFmpeg's decoder.
    let o = open_in_child(&p, 0, &["t1_0.vtt"]);
    assert_eq!(o.status, HlsStatus::HLS_OK, "{}", o.message);
    assert!(o.peak_growth < 256 * MIB, "1 M cues ({file_size}-byte file) grew the peak by {} bytes", o.peak_growth);
    // A 16 MiB ceiling: the extraction stops at it and the open says why.
    let o = open_in_child(&p, 16 * MIB, &[]);
    assert_eq!(o.status, HlsStatus::HLS_ERR_UNSUPPORTED, "{}", o.message);
    assert!(o.message.contains("max_index_bytes"), "{}", o.message);
    assert!(o.peak_growth < 16 * MIB + REFUSED_PEAK, "peak grew by {} bytes", o.peak_growth);
}

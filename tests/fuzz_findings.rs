//! What the fuzz targets (`fuzz/`, `scripts/fuzz-smoke.sh`) found, one test per finding, each with
//! its reproducer built inline (or the minimised input under `tests/data/fuzz/`), and a replay of
//! every committed seed through the targets' own checks (`hls::fuzzing`), so the properties the
//! fuzzer holds the library to run with the ordinary tests too.

use std::ffi::{c_int, CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;

use hls::ffi::*;

/// A committed seed (a tiny real file cut from the test media), present in a clean checkout.
fn seed(target: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target).join(name)
}

fn c_path(p: &Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

/// The context's counters, parsed.
unsafe fn stats(ctx: *mut HlsContext) -> serde_json::Value {
    let mut buf = HlsBuffer { data: ptr::null(), len: 0, content_type: ptr::null(), _private: ptr::null_mut() };
    assert_eq!(hls_context_stats_json(ctx, &mut buf), HlsStatus::HLS_OK);
    let v = serde_json::from_slice(std::slice::from_raw_parts(buf.data, buf.len)).unwrap();
    hls_free_buffer(&mut buf);
    v
}

/// Finding 1 (c_api target): `hls_config_set_idle_media(cfg, 4294967295, ttl)` then
/// `hls_context_new` reserved room for 4 billion idle entries at once (a 68 GB allocation: the
/// process aborted). The idle list now grows with what it holds, and still holds at most the
/// count configured.
#[test]
fn a_server_configured_to_keep_u32_max_idle_files_starts_and_still_bounds_them() {
    for (max, want_idle) in [(u32::MAX, 2), (1, 1)] {
        // SAFETY: every handle is live and freed once.
        unsafe {
            let cfg = hls_config_new();
            assert_eq!(hls_config_set_idle_media(cfg, max, 60_000), HlsStatus::HLS_OK);
            let ctx = hls_context_new(cfg);
            assert!(!ctx.is_null(), "no context for an idle count of {max}");
            for name in ["h264_aac_1s.mp4", "rotated.mp4"] {
                let path = c_path(&seed("serve_mp4", name));
                let mut m = ptr::null_mut();
                assert_eq!(hls_open(ctx, path.as_ptr(), &mut m), HlsStatus::HLS_OK, "{name}");
                hls_close(m);
            }
            assert_eq!(stats(ctx)["media_idle"], want_idle, "idle media kept with a maximum of {max}");
            hls_context_free(ctx);
            hls_config_free(cfg);
        }
    }
}

/// Finding 2 (serve_mkv target): a track title that is not UTF-8 (here `\xb5\x91glish \xff`, as
/// a legacy tagger or a hostile file writes it) went from FFmpeg's metadata into a `&str` without
/// a check (ffmpeg-next's `DictionaryRef::get`): undefined behaviour, which crashed a ctypes
/// caller and put bytes that are not UTF-8 into the master playlist (which RFC 8216 requires to
/// be UTF-8). The title is now read with the bad bytes replaced by U+FFFD.
#[test]
fn a_track_title_that_is_not_utf8_gives_a_utf8_master_playlist() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/title_not_utf8.mka");
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.windows(7).any(|w| w == b"\xb5\x91glish"), "the reproducer lost its title");
    let served = hls::fuzzing::serve_all(&bytes, "mka").unwrap();
    assert!(served.opened && served.failed == 0, "{served:?}");
    let ctx = hls::Context::new(hls::Config::default());
    let media = ctx.open(&path).unwrap();
    let (master, _) = ctx.get(&media, "master.m3u8").unwrap();
    let master = std::str::from_utf8(&master).expect("the master playlist is UTF-8");
    assert!(master.contains("NAME=\"\u{fffd}\u{fffd}glish \u{fffd}\""), "{master}");
}

/// The two C API reports, kept: a status one past the last is "unknown status" (it
/// crashed the caller; the 12 is a status now, `HLS_ERR_KEY_UNAVAILABLE`, so one past
/// the last is computed), and a transcode policy out of range is refused (it was stored).
#[test]
fn out_of_range_status_and_policy_values_are_refused_not_trusted() {
    // SAFETY: hls_status_str returns static C strings; cfg is live and freed once.
    unsafe {
        let past = HlsStatus::HLS_ERR_KEY_UNAVAILABLE as c_int + 1;
        for bad in [past, past + 1, -1, c_int::MAX, c_int::MIN] {
            assert_eq!(CStr::from_ptr(hls_status_str(bad)).to_str().unwrap(), "unknown status");
        }
        let cfg = hls_config_new();
        for bad in [4, 99, -1, c_int::MAX, c_int::MIN] {
            assert_eq!(hls_config_set_transcode_policy(cfg, bad), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
        }
        hls_config_free(cfg);
    }
}

/// Every committed seed passes its target's checks: the whole presentation of each seed file is
/// served (each name its playlists list), and the raw readers hold on the same files. Files named
/// `regression_*` are findings' reproducers kept in the corpus so that the fuzz replay runs them
/// under AddressSanitizer and overflow checks: they only have to keep the properties.
#[test]
fn every_fuzz_seed_is_served_without_breaking_a_property() {
    for (target, ext) in
        [("serve_mp4", "mp4"), ("serve_fmp4", "mp4"), ("serve_mkv", "mkv"), ("serve_ts", "ts"), ("serve_mp3", "mp3")]
    {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        assert!(files.len() >= 3, "{target}: {} seeds", files.len());
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let served = hls::fuzzing::serve_all(&bytes, ext).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("regression_") {
                // A finding's reproducer (also under tests/data/fuzz): the properties hold,
                // whether it opens or gets a clear status.
                continue;
            }
            let subtitles_only = name == "subs_only.mkv";
            if subtitles_only {
                assert!(!served.opened, "{}: a file without audio or video opened", f.display());
                continue;
            }
            assert!(served.opened, "{}: {served:?}", f.display());
            // master, a media playlist, an init segment and a media segment at least
            assert!(served.fetched >= 4, "{}: {served:?}", f.display());
            assert_eq!(served.failed, 0, "{}: {served:?}", f.display());
            if ext == "mp4" {
                assert!(hls::fuzzing::mp4_boxes(&bytes).unwrap() >= 1, "{}", f.display());
            }
            if ext == "mkv" {
                assert!(hls::fuzzing::mkv_blocks(&bytes).unwrap() >= 1, "{}", f.display());
            }
        }
    }
}

/// The subtitle and name seeds pass their targets' checks, and give cues / parse as they should.
#[test]
fn subtitle_and_name_seeds_hold_their_properties() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/subtitles");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let cues = hls::fuzzing::subtitles(&std::fs::read(&p).unwrap()).unwrap();
        assert!(cues >= 1, "{}: no cue", p.display());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/names");
    for e in std::fs::read_dir(dir).unwrap() {
        hls::fuzzing::names(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
    }
}

/// The persisted-index seeds hold the index reader's properties, and the sealed ones (real index
/// files taken apart) decode: the harness gets past the checksums to the serialized part.
/// Seeds from another format version or model no longer decode: `fuzz/make-seeds.sh` remakes them.
#[test]
fn index_file_seeds_decode_and_survive_their_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/index_file");
    let mut sealed_decoded = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let decoded =
            hls::fuzzing::index_file(&std::fs::read(&p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if p.file_name().unwrap().to_string_lossy().starts_with("sealed-") {
            sealed_decoded += decoded;
        }
    }
    assert!(
        sealed_decoded >= 3,
        "only {sealed_decoded} sealed index seeds decode: remake them with fuzz/make-seeds.sh"
    );
}

/// Fuzz finding (mkv_ebml smoke): EBML lace sizes whose sum overflows u64 panicked the block
/// walker ("attempt to add with overflow"); the block is now refused as corrupt.
#[test]
fn ebml_lace_sizes_that_overflow_are_refused_not_added() {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/ebml_lace_sizes_overflow.mkv"))
            .expect("reproducer");
    hls::fuzzing::mkv_blocks(&bytes).expect("the walker's properties hold");
}

/// Fuzz finding (serve_fmp4 smoke in CI, out of memory at 2 GB): a `trun` of a few bytes may
/// announce millions of samples with no per-sample fields, each taking the `trex` defaults (size
/// 0 here). They were held under the 1 GiB index ceiling only, so a 733-byte file made a
/// 15-million-sample index and the segmenter's copies of it. A file now holds at most one sample
/// per byte: this one's fragment is refused as damaged, no track is left, and the open gets a
/// clear status.
#[test]
fn a_fragment_announcing_millions_of_empty_samples_is_refused_not_indexed() {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/fmp4_millions_of_empty_samples.mp4"))
            .expect("reproducer");
    assert!(bytes.len() < 1024);
    let served = hls::fuzzing::serve_all(&bytes, "mp4").expect("the served names' properties hold");
    assert!(!served.opened, "{served:?}");
    assert!(!served.errors.is_empty(), "the open failed with a status: {served:?}");
}

/// Fuzz finding (serve_fmp4 smoke in CI, "attempt to subtract with overflow"): a fragmented MP4
/// whose samples' times, near the ends of the 64-bit range, made the re-timing of a varying
/// B-frame delay (`constant_reorder_delay`) overflow. The times are now left as they are when
/// the delay or the re-timed times do not fit, and the file is served or refused with a status.
#[test]
fn b_frame_delays_at_the_ends_of_the_time_range_are_not_overflowed() {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/fmp4_reorder_delay_overflow.mp4"))
            .expect("reproducer");
    hls::fuzzing::serve_all(&bytes, "mp4").expect("the served names' properties hold");
}

/// Fuzz finding (serve_mkv smoke, "attempt to multiply with overflow"): a Matroska timestamp
/// scale near 2^64 overflowed the check that stream time bases are the block timestamps. The
/// check is now made in 128 bits; the file is served or refused with a status.
#[test]
fn a_matroska_timestamp_scale_near_2_64_is_compared_not_overflowed() {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/mkv_timestamp_scale_overflow.mkv"))
            .expect("reproducer");
    hls::fuzzing::serve_all(&bytes, "mkv").expect("the served names' properties hold");
}

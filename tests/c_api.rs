//! Runs the C test programs (tests/c) against the real library: API error handling and the
//! multi-threaded stress test, plain, under AddressSanitizer/UBSan, under valgrind, and under
//! ThreadSanitizer (for the C side; see tests/c/tsan.supp for what TSan cannot see).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds tests/c (`make <target>`) once per target against target/release. One make at a
/// time, once per target: two tests making the same target at once would relink a program
/// while the other runs it ("Text file busy", or a half-written program).
fn make(target: &str) {
    static MADE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if made.iter().any(|t| t == target) {
        return;
    }
    common::ensure_library().expect("libhls.so");
    let root = root();
    let st = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(root.join("tests/c"))
        .arg(format!("LIBDIR={}", root.join("target/release").display()))
        .arg(format!("INCLUDE={}", root.join("include").display()))
        .arg(target)
        .status()
        .expect("make");
    assert!(st.success(), "make -C tests/c {target} failed");
    made.push(target.to_string());
}

fn media() -> PathBuf {
    common::ensure_media(&[
        "h264_aac.mp4",
        "multi_audio.mkv",
        "subs.mp4",
        "audio_only.m4a",
        "empty.mp4",
        "text.mp4",
        "truncated.mp4",
        "truncated.mkv",
        "corrupt.mp4",
        "subs_only.mkv",
    ])
    .expect("media");
    root().join("target/media")
}

fn run(prog: &str, args: &[&str], env: &[(&str, &str)], wrapper: &[&str]) -> String {
    let exe = root().join("tests/c").join(prog);
    let mut cmd = if wrapper.is_empty() {
        Command::new(&exe)
    } else {
        let mut c = Command::new(wrapper[0]);
        c.args(&wrapper[1..]).arg(&exe);
        c
    };
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn C test");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{prog} {args:?} failed ({}):\n{text}", out.status);
    text
}

fn valid_files() -> Vec<String> {
    let m = media();
    ["h264_aac.mp4", "multi_audio.mkv", "subs.mp4", "audio_only.m4a"]
        .iter()
        .map(|f| m.join(f).display().to_string())
        .collect()
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn api_errors_plain() {
    make("all");
    let m = media();
    let out = run("api_errors", &[&path_str(&m), &path_str(&m.join("h264_aac.mp4"))], &[], &[]);
    assert!(out.contains(" passed, 0 failed"), "{out}");
}

#[test]
fn api_errors_asan() {
    make("asan");
    let m = media();
    let out = run(
        "api_errors-asan",
        &[&path_str(&m), &path_str(&m.join("h264_aac.mp4"))],
        &[("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=23")],
        &[],
    );
    assert!(out.contains(" passed, 0 failed"), "{out}");
}

#[test]
fn stress_16_threads_small_cache() {
    make("all");
    let files = valid_files();
    let mut args = vec!["16", "400", "3000000"];
    args.extend(files.iter().map(String::as_str));
    let out = run("stress", &args, &[], &[]);
    assert!(out.contains(" 0 mismatches"), "{out}");
    println!("{out}");
}

#[test]
fn stress_asan() {
    make("asan");
    let files = valid_files();
    let mut args = vec!["8", "150", "2000000"];
    args.extend(files.iter().map(String::as_str));
    let out = run("stress-asan", &args, &[("ASAN_OPTIONS", "detect_leaks=1:exitcode=23")], &[]);
    assert!(out.contains(" 0 mismatches"), "{out}");
}

#[test]
fn stress_valgrind() {
    make("all");
    let files = valid_files();
    let mut args = vec!["4", "40", "2000000"];
    args.extend(files.iter().take(2).map(String::as_str));
    let out = run(
        "stress",
        &args,
        &[],
        &[
            "valgrind",
            "-q",
            "--error-exitcode=33",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
        ],
    );
    assert!(out.contains(" 0 mismatches"), "{out}");
}

#[test]
fn stress_tsan() {
    make("tsan");
    let files = valid_files();
    let mut args = vec!["8", "150", "2000000"];
    args.extend(files.iter().take(2).map(String::as_str));
    let supp = format!("suppressions={} halt_on_error=1 exitcode=44", root().join("tests/c/tsan.supp").display());
    let out = run("stress-tsan", &args, &[("TSAN_OPTIONS", &supp)], &[]);
    assert!(out.contains(" 0 mismatches"), "{out}");
}

/// tests/c/parts.c: the arguments (threads, cache bytes, scratch dir, files) and its scratch dir.
fn parts_args(threads: &str, cache: &str, n_files: usize) -> Vec<String> {
    let scratch = common::out_root().join("c-parts");
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let mut args = vec![threads.to_string(), cache.to_string(), path_str(&scratch)];
    args.extend(valid_files().into_iter().take(n_files));
    args
}

fn parts_ok(out: &str) {
    assert!(out.contains(" 0 mismatches") && !out.contains(" 0 with file ranges"), "{out}");
}

#[test]
fn parts_are_hls_get_bytes_sent_with_sendfile() {
    make("all");
    let args = parts_args("4", "3000000", 4);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run("parts", &args, &[], &[]);
    parts_ok(&out);
    println!("{out}");
}

#[test]
fn parts_asan() {
    make("asan");
    let args = parts_args("4", "2000000", 4);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    parts_ok(&run("parts-asan", &args, &[("ASAN_OPTIONS", "detect_leaks=1:exitcode=23")], &[]));
}

#[test]
fn parts_valgrind() {
    make("all");
    let args = parts_args("2", "2000000", 2);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let valgrind = [
        "valgrind",
        "-q",
        "--error-exitcode=33",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
    ];
    parts_ok(&run("parts", &args, &[], &valgrind));
}

#[test]
fn parts_tsan() {
    make("tsan");
    let args = parts_args("4", "2000000", 2);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let supp = format!("suppressions={} halt_on_error=1 exitcode=44", root().join("tests/c/tsan.supp").display());
    parts_ok(&run("parts-tsan", &args, &[("TSAN_OPTIONS", &supp)], &[]));
}

/// tests/c/races.c: (threads, rounds, a copied file, a transcoded file, its transcoded name).
fn races_args(threads: &str, rounds: &str) -> Vec<String> {
    let m = media();
    common::ensure_media(&["dts.mkv"]).expect("media");
    vec![
        threads.to_string(),
        rounds.to_string(),
        path_str(&m.join("h264_aac.mp4")),
        path_str(&m.join("dts.mkv")),
        "t1_1.m4s".to_string(),
    ]
}

fn races_ok(out: &str) {
    assert!(out.contains(" 0 mismatches") && !out.contains(" 0 fetches"), "{out}");
}

#[test]
fn closes_and_frees_racing_with_serving_and_transcoding_asan() {
    make("asan");
    let args = races_args("4", "3");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    races_ok(&run("races-asan", &args, &[("ASAN_OPTIONS", "detect_leaks=1:exitcode=23")], &[]));
}

#[test]
fn closes_and_frees_racing_with_serving_and_transcoding_tsan() {
    make("tsan");
    let args = races_args("4", "3");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let supp = format!("suppressions={} halt_on_error=1 exitcode=44", root().join("tests/c/tsan.supp").display());
    races_ok(&run("races-tsan", &args, &[("TSAN_OPTIONS", &supp)], &[]));
}

#[test]
fn closes_and_frees_racing_with_serving_and_transcoding_valgrind() {
    make("all");
    let args = races_args("2", "1");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let valgrind = [
        "valgrind",
        "-q",
        "--error-exitcode=33",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
    ];
    races_ok(&run("races", &args, &[], &valgrind));
}

/// The same out-of-range checks as tests/c/api_errors.c, calling the exported functions from
/// Rust: integers from C that are no `HlsStatus` / `HlsTranscodePolicy` are rejected, never
/// reinterpreted.
#[test]
fn out_of_range_values_from_c_are_rejected() {
    use hls::ffi::*;
    use std::ffi::{c_int, CStr};

    let text = |status: c_int| {
        // SAFETY: hls_status_str never returns NULL, and its strings are static.
        unsafe { CStr::from_ptr(hls_status_str(status)) }.to_str().unwrap()
    };
    for bad in [13, 14, 99, -1, c_int::MIN, c_int::MAX] {
        assert_eq!(text(bad), "unknown status", "hls_status_str({bad})");
    }
    assert!(text(HlsStatus::HLS_ERR_IO as c_int).starts_with("HLS_ERR_IO"));

    let cfg = hls_config_new();
    assert!(!cfg.is_null());
    // SAFETY: cfg is a live configuration used only by this thread; NULL is allowed.
    unsafe {
        for good in [
            HlsTranscodePolicy::HLS_TRANSCODE_UNPLAYABLE,
            HlsTranscodePolicy::HLS_TRANSCODE_BROWSER_SAFE,
            HlsTranscodePolicy::HLS_TRANSCODE_NEVER,
            HlsTranscodePolicy::HLS_TRANSCODE_ADD_AAC,
        ] {
            assert_eq!(hls_config_set_transcode_policy(cfg, good as c_int), HlsStatus::HLS_OK, "{good:?}");
        }
        for bad in [4, 99, -1, c_int::MIN, c_int::MAX] {
            assert_eq!(
                hls_config_set_transcode_policy(cfg, bad),
                HlsStatus::HLS_ERR_INVALID_ARGUMENT,
                "hls_config_set_transcode_policy({bad})"
            );
        }
        let msg = CStr::from_ptr(hls_last_error_message()).to_string_lossy().into_owned();
        assert!(msg.contains("transcode policy"), "{msg}");
        assert_eq!(hls_config_set_transcode_policy(std::ptr::null_mut(), 0), HlsStatus::HLS_ERR_NULL_ARGUMENT);
        hls_config_free(cfg);
    }
}

/// `hls_version()` is Cargo's version, and the header's HLS_VERSION_* macros say the same.
#[test]
fn version_matches_the_header() {
    // SAFETY: hls_version returns a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(hls::ffi::hls_version()) }.to_str().unwrap().to_owned();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    let header = std::fs::read_to_string(root().join("include/hls.h")).expect("include/hls.h");
    assert!(header.contains(&format!("#define HLS_VERSION_STRING \"{v}\"")), "hls.h is stale");
    assert!(header.contains(&format!("#define HLS_VERSION_NUMBER {}\n", hls::ffi::hls_version_number())));
}

//! Real-browser acceptance test: hls.js in headless Chromium (driven by playwright-core) plays the
//! presentations hls-serve makes of target/media. The checks themselves are in
//! tests/browser/run.mjs (see its header); this test prepares everything and runs it:
//!
//! 1. Chromium: `$LIBHLS_CHROMIUM` or /usr/bin/chromium; when missing, runs
//!    `LIBHLS_BROWSER=1 scripts/setup.sh` (apt) once.
//! 2. Node packages: tests/browser/package.json + package-lock.json are copied to
//!    target/browser-node/ and installed there with `npm ci` (skipped when already installed from
//!    the same lockfile), so node_modules never lands in the source tree.
//! 3. Test media (scripts/gen-media.sh when missing), target/release/libhls.so (cargo build
//!    --release --lib when missing or older than src/), examples-c/hls-serve (make -C examples-c).
//! 4. Starts hls-serve on a free loopback port with target/media as root, runs
//!    `node tests/browser/run.mjs <base-url>` (at most 150 s), stops the server, prints the node
//!    output and asserts that node exited 0.
//!
//! `LIBHLS_SKIP_BROWSER=1` skips the test (prints why). Run alone with
//! `cargo test --release --test browser -- --nocapture`.

mod web;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use web::{ensure_chromium, ensure_files, ensure_hls_serve, ensure_node_modules, root, run_with_deadline, Server};

const NODE_TIMEOUT: Duration = Duration::from_secs(150);
const MEDIA: &[&str] = &[
    "multi_audio.mkv",
    "h264_aac.mp4",
    "offset_start.mkv",
    "subs.mp4",
    "mkvmerge_multi.mkv",
    "audio_only.m4a",
    "ac3_51.mp4",
];

fn ensure_media() -> Result<(), String> {
    ensure_files(MEDIA).map(|_| ())
}

/// Runs node with a deadline; returns (exit status or None on timeout, stdout, stderr).
fn run_node(
    node_dir: &Path,
    chromium: &Path,
    base: &str,
) -> Result<(Option<std::process::ExitStatus>, String, String), String> {
    run_script(node_dir, chromium, "run.mjs", &[base])
}

/// Runs `node tests/browser/<script> <args>` with a deadline (see [`run_node`]).
fn run_script(
    node_dir: &Path,
    chromium: &Path,
    script: &str,
    args: &[&str],
) -> Result<(Option<std::process::ExitStatus>, String, String), String> {
    // node's own watchdog should fire long before NODE_TIMEOUT; past it, node and its browser
    // are killed together.
    run_with_deadline(
        Command::new("node")
            .arg(root().join("tests/browser").join(script))
            .args(args)
            .env("LIBHLS_NODE_DIR", node_dir)
            .env("LIBHLS_CHROMIUM", chromium)
            .current_dir(root()),
        NODE_TIMEOUT,
    )
}

#[test]
fn hls_js_in_chromium() {
    if std::env::var_os("LIBHLS_SKIP_BROWSER").is_some_and(|v| v != "0") {
        println!("browser test skipped (LIBHLS_SKIP_BROWSER is set)");
        return;
    }
    let prepare = || -> Result<(PathBuf, PathBuf, PathBuf), String> {
        let chromium = ensure_chromium()?;
        let node_dir = ensure_node_modules()?;
        ensure_media()?;
        let serve = ensure_hls_serve()?;
        Ok((chromium, node_dir, serve))
    };
    let (chromium, node_dir, serve) = prepare().unwrap_or_else(|e| panic!("browser test setup failed: {e}"));

    let (mut server, base) = Server::start(&serve, &root().join("target/media"), node_dir.join("hls-serve.log"), true)
        .unwrap_or_else(|e| panic!("browser test: {e}"));
    println!("browser test: hls-serve at {base}, chromium {}", chromium.display());
    let t = Instant::now();
    let result = run_node(&node_dir, &chromium, &base);
    let stopped = server.stop();
    let (status, stdout, stderr) = result.unwrap_or_else(|e| panic!("browser test: {e}"));

    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("--- node stderr\n{stderr}");
    }
    println!("browser test: node ran {:.1} s, hls-serve stopped: {stopped}", t.elapsed().as_secs_f64());
    let ok = matches!(status, Some(st) if st.success());
    if !ok {
        let log = server.log_text();
        if !log.trim().is_empty() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            println!("--- hls-serve log (last {} lines)", tail.len());
            for l in tail.iter().rev() {
                println!("{l}");
            }
        }
    }
    match status {
        None => panic!("node tests/browser/run.mjs did not finish within {} s (killed)", NODE_TIMEOUT.as_secs()),
        Some(st) => assert!(st.success(), "node tests/browser/run.mjs failed ({st}); see the output above"),
    }
    assert!(
        stdout.lines().any(|l| l.starts_with("browser: ") && l.ends_with(" 0 failed")),
        "run.mjs exited 0 without a 'browser: N passed, 0 failed' line"
    );
}

/// Files whose picture shape (rotation, sample aspect ratio) or codec (VP9) the browser must show
/// as the source file shows it (issue #14).
const PICTURE_MEDIA: &[&str] =
    &["phone_rotated.mp4", "anamorphic.mp4", "anamorphic.mkv", "vp9_opus.webm", "vp9_opus.mp4"];

/// hls.js in Chromium shows each file's presentation at the size Chromium shows the source file
/// itself (a phone's portrait video upright, a 16:9 DVD rip unsqueezed), with decoded frames
/// (VP9 too), buffered from the source's start (a WebM whose Opus starts before its VP9 once lost
/// its first GOP): tests/browser/geometry.mjs.
#[test]
fn rotated_anamorphic_and_vp9_video_look_as_the_source_in_chromium() {
    if std::env::var_os("LIBHLS_SKIP_BROWSER").is_some_and(|v| v != "0") {
        println!("browser test skipped (LIBHLS_SKIP_BROWSER is set)");
        return;
    }
    let prepare = || -> Result<(PathBuf, PathBuf, PathBuf), String> {
        let chromium = ensure_chromium()?;
        let node_dir = ensure_node_modules()?;
        ensure_files(PICTURE_MEDIA)?;
        let serve = ensure_hls_serve()?;
        Ok((chromium, node_dir, serve))
    };
    let (chromium, node_dir, serve) = prepare().unwrap_or_else(|e| panic!("browser test setup failed: {e}"));
    let (mut server, base) =
        Server::start(&serve, &root().join("target/media"), node_dir.join("hls-serve-geometry.log"), true)
            .unwrap_or_else(|e| panic!("browser test: {e}"));
    let mut args = vec![base.as_str()];
    args.extend_from_slice(PICTURE_MEDIA);
    let result = run_script(&node_dir, &chromium, "geometry.mjs", &args);
    let stopped = server.stop();
    let (status, stdout, stderr) = result.unwrap_or_else(|e| panic!("browser test: {e}"));
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("--- node stderr\n{stderr}");
    }
    println!("browser test: hls-serve stopped: {stopped}");
    match status {
        None => panic!("node tests/browser/geometry.mjs did not finish within {} s (killed)", NODE_TIMEOUT.as_secs()),
        Some(st) => assert!(st.success(), "node tests/browser/geometry.mjs failed ({st}); see the output above"),
    }
    let passed = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    assert_eq!(passed, 4 * PICTURE_MEDIA.len(), "every file's four checks ran and passed");
}

//! The multi-audio and subtitle presentations played by the players people use besides hls.js:
//! Shaka Player and video.js/VHS (and hls.js again) in headless Chromium, and GStreamer 1.22's
//! hlsdemux2 (playbin3 / uridecodebin3, the engine of many TV and set-top players). The checks
//! themselves are in tests/players/ (see the headers of players.mjs and gst_play.py): each
//! player plays, switching the audio to French really changes the sound (the French segments are
//! fetched and the French test tones are what is decoded), every subtitle cue is shown, a seek
//! into any segment of an open-GOP file decodes without error, and every CODECS string of the
//! test files passes Chromium's `MediaSource.isTypeSupported`.
//!
//! Set-up, done here when missing: Chromium (`LIBHLS_BROWSER=1 scripts/setup.sh`), GStreamer
//! (apt-get: gstreamer1.0-plugins-{base,good,bad}, gstreamer1.0-libav, gstreamer1.0-tools,
//! python3-gst-1.0), the npm packages of tests/browser/package-lock.json (into
//! target/browser-node, like tests/browser.rs), the test media, libhls and examples-c/hls-serve.
//! When Chromium or GStreamer cannot be installed the test fails, unless
//! `LIBHLS_PLAYERS_OPTIONAL=1`, which turns that into a loud skip. Run alone with
//! `cargo test --release --test players -- --nocapture`.

mod web;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use web::{ensure_chromium, ensure_files, ensure_hls_serve, ensure_node_modules, root, run, run_with_deadline, Server};

const RUN_TIMEOUT: Duration = Duration::from_secs(300);
const MEDIA: &[&str] =
    &["multi_audio.mkv", "multi_audio.mp4", "mkvmerge_subs.mkv", "h264_opengop.mkv", "hevc_aac.mkv", "hevc_aac.ts"];
const GST_PACKAGES: &[&str] = &[
    "gstreamer1.0-plugins-base",
    "gstreamer1.0-plugins-good",
    "gstreamer1.0-plugins-bad",
    "gstreamer1.0-libav",
    "gstreamer1.0-tools",
    "python3-gst-1.0",
];
/// The Python that has Debian's `gi` (python3-gi): not a virtualenv's.
const PYTHON: &str = "/usr/bin/python3";

/// A tool the test needs is missing and could not be installed: fail, or skip loudly when
/// `LIBHLS_PLAYERS_OPTIONAL=1`. Returns true when the test should stop (skip).
fn missing(what: &str, why: &str) -> bool {
    if std::env::var_os("LIBHLS_PLAYERS_OPTIONAL").is_some_and(|v| v == "1") {
        let line = "!".repeat(100);
        println!("{line}\nplayers test SKIPPED: {what} is not available ({why}); LIBHLS_PLAYERS_OPTIONAL=1 allows that\n{line}");
        eprintln!("players test SKIPPED: {what} is not available ({why})");
        return true;
    }
    panic!("players test: {what} is not available: {why} (LIBHLS_PLAYERS_OPTIONAL=1 makes this a skip)");
}

fn gst_ok() -> bool {
    Command::new(PYTHON)
        .args([
            "-c",
            "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst; Gst.init(None); \
             import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in \
             ('playbin3', 'hlsdemux2', 'avdec_h264', 'avdec_ac3')) else 1)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn gstreamer() -> Result<(), String> {
    if gst_ok() {
        return Ok(());
    }
    let sudo = if unsafe { libc::geteuid() } == 0 { vec![] } else { vec!["sudo", "-n"] };
    let apt = |args: &[&str]| {
        let mut c = Command::new(sudo.first().copied().unwrap_or("apt-get"));
        c.args(sudo.iter().skip(1)).args(if sudo.is_empty() { &[][..] } else { &["apt-get"][..] }).args(args);
        c.env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run("GStreamer missing: apt-get update", &mut apt(&["update", "-q"]))?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend_from_slice(GST_PACKAGES);
    run(&format!("apt-get install {}", GST_PACKAGES.join(" ")), &mut apt(&install))?;
    gst_ok().then_some(()).ok_or_else(|| "playbin3/hlsdemux2/avdec_* still missing after apt-get install".into())
}

fn media() -> Result<PathBuf, String> {
    ensure_files(MEDIA)
}

/// Runs `cmd` (in its own process group) to completion or RUN_TIMEOUT; (success, stdout, stderr).
fn run_checks(mut cmd: Command) -> (Option<bool>, String, String) {
    match run_with_deadline(&mut cmd, RUN_TIMEOUT) {
        Ok((status, out, err)) => (status.map(|st| st.success()), out, err),
        Err(e) => (Some(false), String::new(), e),
    }
}

/// Prints the checks' output and asserts they all passed (a `<what>: N passed, 0 failed` line).
fn report(what: &str, started: Instant, (status, stdout, stderr): (Option<bool>, String, String)) {
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("--- stderr\n{}", stderr.trim_end());
    }
    println!("{what}: ran {:.1} s", started.elapsed().as_secs_f64());
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("not ok - ")).collect();
    match status {
        None => panic!("{what} did not finish within {} s (killed)", RUN_TIMEOUT.as_secs()),
        Some(ok) => assert!(
            ok && failures.is_empty(),
            "{what}: {} check(s) failed:\n{}\n(full output above)",
            failures.len(),
            failures.join("\n")
        ),
    }
    assert!(
        stdout.lines().any(|l| l.starts_with(what) && l.ends_with(" 0 failed")),
        "{what}: no '{what}: N passed, 0 failed' line"
    );
}

#[test]
fn shaka_vhs_and_hls_js_switch_language_show_subtitles_and_survive_open_gop_seeks() {
    let chromium = match ensure_chromium() {
        Ok(c) => c,
        Err(e) if missing("Chromium", &e) => return,
        Err(e) => panic!("{e}"),
    };
    let prep = || -> Result<_, String> { Ok((ensure_node_modules()?, media()?, ensure_hls_serve()?)) };
    let (node_dir, media, serve) = prep().unwrap_or_else(|e| panic!("players test set-up failed: {e}"));
    let log = node_dir.join("players-chromium-serve.log");
    let (_server, base) =
        Server::start(&serve, &media, log.clone(), false).unwrap_or_else(|e| panic!("players test: {e}"));
    let mut cmd = Command::new("node");
    cmd.arg(root().join("tests/players/players.mjs"))
        .arg(&base)
        .arg(&media)
        .env("LIBHLS_NODE_DIR", &node_dir)
        .env("LIBHLS_CHROMIUM", &chromium)
        .current_dir(root());
    let t = Instant::now();
    report("chromium players", t, run_checks(cmd));
}

#[test]
fn gstreamer_switches_language_shows_every_cue_and_survives_open_gop_seeks() {
    if let Err(e) = gstreamer() {
        if missing("GStreamer (playbin3, hlsdemux2, gst-libav, python3-gst-1.0)", &e) {
            return;
        }
    }
    let prep = || -> Result<_, String> { Ok((media()?, ensure_hls_serve()?)) };
    let (media, serve) = prep().unwrap_or_else(|e| panic!("players test set-up failed: {e}"));
    let scratch = root().join("target/players");
    std::fs::create_dir_all(&scratch).unwrap_or_else(|e| panic!("{}: {e}", scratch.display()));
    let log = scratch.join("gst-serve.log");
    let (_server, base) =
        Server::start(&serve, &media, log.clone(), false).unwrap_or_else(|e| panic!("players test: {e}"));
    let mut cmd = Command::new(PYTHON);
    cmd.arg(root().join("tests/players/gst_play.py")).arg(&base).arg(&log).current_dir(root());
    let t = Instant::now();
    report("gstreamer", t, run_checks(cmd));
}

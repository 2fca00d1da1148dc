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

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const NODE_TIMEOUT: Duration = Duration::from_secs(150);
const MEDIA: &[&str] =
    &["multi_audio.mkv", "h264_aac.mp4", "offset_start.mkv", "subs.mp4", "mkvmerge_multi.mkv", "audio_only.m4a"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command to completion; Err carries its output when it fails.
fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("browser test: {what}");
    let out = cmd.output().map_err(|e| format!("{what}: cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn chromium_path() -> PathBuf {
    std::env::var_os("LIBHLS_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into())
}

fn ensure_chromium() -> Result<PathBuf, String> {
    let path = chromium_path();
    if path.is_file() {
        return Ok(path);
    }
    run(
        &format!("{} missing: LIBHLS_BROWSER=1 scripts/setup.sh", path.display()),
        Command::new("bash").arg(root().join("scripts/setup.sh")).env("LIBHLS_BROWSER", "1").current_dir(root()),
    )?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} still missing after scripts/setup.sh (set LIBHLS_CHROMIUM to another browser)", path.display()))
    }
}

/// Installs the pinned packages into target/browser-node/node_modules; returns that directory.
fn ensure_node_modules() -> Result<PathBuf, String> {
    let src = root().join("tests/browser");
    let dir = root().join("target/browser-node");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut same = true;
    for f in ["package.json", "package-lock.json"] {
        let want = read(&src.join(f))?;
        if std::fs::read(dir.join(f)).ok().as_deref() != Some(&want[..]) {
            std::fs::write(dir.join(f), &want).map_err(|e| format!("{}: {e}", dir.join(f).display()))?;
            same = false;
        }
    }
    let installed =
        ["hls.js", "playwright-core"].iter().all(|p| dir.join("node_modules").join(p).join("package.json").is_file());
    if !(same && installed) {
        run(
            "npm ci in target/browser-node (tests/browser/package-lock.json)",
            Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir),
        )?;
    }
    Ok(dir)
}

fn ensure_media() -> Result<(), String> {
    ensure_files(MEDIA)
}

fn ensure_files(media: &[&str]) -> Result<(), String> {
    let dir = root().join("target/media");
    if media.iter().any(|f| !dir.join(f).is_file()) {
        run(
            "test media missing: scripts/gen-media.sh",
            Command::new("bash").arg(root().join("scripts/gen-media.sh")).current_dir(root()),
        )?;
    }
    match media.iter().find(|f| !dir.join(f).is_file()) {
        Some(f) => Err(format!("{f} not produced by scripts/gen-media.sh")),
        None => Ok(()),
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn newest_under(p: &Path, newest: &mut Option<SystemTime>) {
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            newest_under(&e.path(), newest);
        }
    } else if let Some(t) = mtime(p) {
        *newest = Some(newest.map_or(t, |n| n.max(t)));
    }
}

/// target/release/libhls.so, rebuilt when missing or older than the sources, then examples-c.
fn ensure_hls_serve() -> Result<PathBuf, String> {
    let so = root().join("target/release/libhls.so");
    let mut newest = None;
    for p in ["Cargo.toml", "build.rs", "src"] {
        newest_under(&root().join(p), &mut newest);
    }
    let fresh = matches!((mtime(&so), newest), (Some(a), Some(b)) if a >= b) || (so.is_file() && newest.is_none());
    if !fresh {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        run(
            "target/release/libhls.so missing or stale: cargo build --release --lib",
            Command::new(cargo).args(["build", "--release", "--lib"]).current_dir(root()),
        )?;
    }
    let libdir = root().join("target/release");
    run(
        "make -C examples-c",
        Command::new("make").arg("-C").arg(root().join("examples-c")).arg(format!("LIBDIR={}", libdir.display())),
    )?;
    let bin = root().join("examples-c/hls-serve");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err("make -C examples-c did not produce examples-c/hls-serve".into())
    }
}

/// A running hls-serve; stopped (SIGTERM, then SIGKILL) on drop.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(bin: &Path, log: PathBuf) -> Result<(Server, String), String> {
        let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(bin)
            .args(["--port", "0", "--bind", "127.0.0.1", "--quiet"])
            .arg(root().join("target/media"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        // First line: "Serving <root> at http://127.0.0.1:P/".
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            for _ in lines {} // keep the pipe drained
        });
        let mut server = Server { child, log };
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(Ok(l))) => l,
            other => {
                let status = server.child.try_wait().ok().flatten();
                return Err(format!(
                    "hls-serve did not print its address ({other:?}, exit status {status:?}); log:\n{}",
                    server.log_text()
                ));
            }
        };
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|u| u.trim_end_matches('/').to_string())
            .ok_or_else(|| format!("unexpected first line from hls-serve: {line:?}"))?;
        Ok((server, url))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait up to 5 s, else SIGKILL. Returns the exit status description.
    fn stop(&mut self) -> String {
        if let Ok(Some(st)) = self.child.try_wait() {
            return format!("had already exited: {st}");
        }
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(st)) = self.child.try_wait() {
                return format!("{st}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        "did not stop within 5 s of SIGTERM, killed".into()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
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
    let mut child = Command::new("node")
        .arg(root().join("tests/browser").join(script))
        .args(args)
        .env("LIBHLS_NODE_DIR", node_dir)
        .env("LIBHLS_CHROMIUM", chromium)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0) // so a timeout can kill node and the browser it started together
        .spawn()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if t.elapsed() > NODE_TIMEOUT {
            // node's own watchdog should have fired long before; kill it and its browser.
            unsafe {
                libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
            }
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok((status, out.join().unwrap_or_default(), err.join().unwrap_or_default()))
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

    let (mut server, base) =
        Server::start(&serve, node_dir.join("hls-serve.log")).unwrap_or_else(|e| panic!("browser test: {e}"));
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
        Server::start(&serve, node_dir.join("hls-serve-geometry.log")).unwrap_or_else(|e| panic!("browser test: {e}"));
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

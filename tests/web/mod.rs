//! What the browser and player tests (tests/browser.rs, tests/players.rs) need before they can
//! play anything: Chromium, the pinned npm packages, the test media, libhls and
//! examples-c/hls-serve built once, and a running hls-serve. Each helper installs or builds what
//! is missing and returns an error (never panics) when it cannot.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command to completion; Err carries its output when it fails.
pub fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("test set-up: {what}");
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

/// Chromium: `$LIBHLS_CHROMIUM` or /usr/bin/chromium, installed by `LIBHLS_BROWSER=1
/// scripts/setup.sh` when missing.
pub fn ensure_chromium() -> Result<PathBuf, String> {
    let path =
        std::env::var_os("LIBHLS_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
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

/// The pinned npm packages of tests/browser/package-lock.json in target/browser-node (`npm ci`
/// when the lock file changed or a package is missing); returns that directory.
pub fn ensure_node_modules() -> Result<PathBuf, String> {
    static MADE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    MADE.get_or_init(make_node_modules).clone()
}

fn make_node_modules() -> Result<PathBuf, String> {
    let src = root().join("tests/browser");
    let dir = root().join("target/browser-node");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut same = true;
    for f in ["package.json", "package-lock.json"] {
        let want = std::fs::read(src.join(f)).map_err(|e| format!("{}: {e}", src.join(f).display()))?;
        if std::fs::read(dir.join(f)).ok().as_deref() != Some(&want[..]) {
            std::fs::write(dir.join(f), &want).map_err(|e| format!("{}: {e}", dir.join(f).display()))?;
            same = false;
        }
    }
    let installed = ["hls.js", "playwright-core", "shaka-player", "video.js"]
        .iter()
        .all(|p| dir.join("node_modules").join(p).join("package.json").is_file());
    if !(same && installed) {
        run(
            "npm ci in target/browser-node (tests/browser/package-lock.json)",
            Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir),
        )?;
    }
    Ok(dir)
}

/// `files` in target/media (scripts/gen-media.sh makes what is missing); returns that directory.
pub fn ensure_files(files: &[&str]) -> Result<PathBuf, String> {
    let dir = root().join("target/media");
    if files.iter().any(|f| !dir.join(f).is_file()) {
        run(
            "test media missing: scripts/gen-media.sh",
            Command::new("bash").arg(root().join("scripts/gen-media.sh")).current_dir(root()),
        )?;
    }
    match files.iter().find(|f| !dir.join(f).is_file()) {
        Some(f) => Err(format!("{f} not produced by scripts/gen-media.sh")),
        None => Ok(dir),
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

/// target/release/libhls.so (rebuilt when missing or older than the sources) and
/// examples-c/hls-serve, made once per test binary (its tests run in parallel: a second `make`
/// would replace hls-serve under the first).
pub fn ensure_hls_serve() -> Result<PathBuf, String> {
    static MADE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    MADE.get_or_init(make_hls_serve).clone()
}

fn make_hls_serve() -> Result<PathBuf, String> {
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

/// A running hls-serve on a free loopback port, its stderr (and access log, unless `quiet`) in
/// `log`; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `bin` over `media`; returns the server and its base URL (no trailing slash).
    pub fn start(bin: &Path, media: &Path, log: PathBuf, quiet: bool) -> Result<(Server, String), String> {
        let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.args(["--port", "0", "--bind", "127.0.0.1"]);
        if quiet {
            cmd.arg("--quiet");
        }
        let mut child = cmd
            .arg(media)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        // First line: "Serving <root> at http://127.0.0.1:P/".
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().ok_or("hls-serve has no stdout pipe")?;
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
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

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM and wait up to 5 s, else SIGKILL. Returns the exit status description.
    pub fn stop(&mut self) -> String {
        if let Ok(Some(st)) = self.child.try_wait() {
            return format!("had already exited: {st}");
        }
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
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

/// Runs `cmd` in its own process group (so a timeout kills it and every browser it started)
/// until it exits or `timeout` passes; returns its exit status (None: killed at the deadline),
/// stdout and stderr.
pub fn run_with_deadline(cmd: &mut Command, timeout: Duration) -> Result<(Option<ExitStatus>, String, String), String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().ok_or("no stdout pipe")?));
    let err = drain(Box::new(child.stderr.take().ok_or("no stderr pipe")?));
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if t.elapsed() > timeout {
            // SAFETY: kill(2) on the process group of our own child; no memory is involved.
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

//! Shared helpers for the presentation tests: locating the repo, generating media, building the C
//! programs, crawling presentations with `hls-dump`, probing with ffprobe, parsing playlists, and
//! a small ISO-BMFF (fMP4) box walker.
//!
//! Nothing here asserts; everything returns `Result<_, String>` (or collects problems) so the tests
//! can name the file, the track and the rule in their failure messages.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::SystemTime;

use serde_json::Value;

pub mod capi;

// ------------------------------------------------------------------------------------------------
// Paths, processes, parallelism
// ------------------------------------------------------------------------------------------------

/// The repository root (the crate's manifest directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where `scripts/gen-media.sh` writes the test media.
pub fn media_dir() -> PathBuf {
    root().join("target").join("media")
}

/// Where crawled presentations and scratch files go.
pub fn out_root() -> PathBuf {
    root().join("target").join("test-out")
}

/// Runs a command, returning its output or a message naming the command.
pub fn run(cmd: &mut Command) -> Result<Output, String> {
    cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))
}

/// Runs a command and requires exit status 0.
pub fn run_ok(cmd: &mut Command) -> Result<Output, String> {
    let desc = format!("{cmd:?}");
    let out = run(cmd)?;
    if !out.status.success() {
        return Err(format!(
            "`{desc}` failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out)
}

/// Number of worker threads for process-heavy loops (bounded: the machine is shared).
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 2)
}

/// Maps `f` over `items` on at most `threads` threads, keeping the order.
pub fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= items.len() {
                    break;
                }
                let r = f(&items[i]);
                slots.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results.into_iter().map(|r| r.expect("worker panicked")).collect()
}

// ------------------------------------------------------------------------------------------------
// Locking and one-time setup
// ------------------------------------------------------------------------------------------------

/// An advisory lock on a file (flock), shared between processes (other test runs).
pub struct FileLock(File);

impl FileLock {
    /// Takes the lock exclusively (blocking).
    pub fn exclusive(path: &Path) -> Result<FileLock, String> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // SAFETY: flock on an open descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(format!("flock {}: {}", path.display(), std::io::Error::last_os_error()));
        }
        Ok(FileLock(f))
    }

    /// Converts the lock to a shared one: other runs may read but not rewrite what we use.
    pub fn downgrade(self) -> Result<FileLock, String> {
        // SAFETY: as above.
        if unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_SH) } != 0 {
            return Err(format!("flock(LOCK_SH): {}", std::io::Error::last_os_error()));
        }
        Ok(self)
    }
}

/// What the one-time setup produced.
pub struct Setup {
    /// The `hls-dump` binary.
    pub hls_dump: PathBuf,
    /// How it was obtained (for the log).
    pub how: String,
}

static SETUP: OnceLock<Result<Setup, String>> = OnceLock::new();
/// Held (shared) for the rest of the process once the crawl tree is written.
static HELD: OnceLock<FileLock> = OnceLock::new();

/// The lock that guards `target/test-out` against concurrent test runs.
pub fn out_lock_path() -> PathBuf {
    out_root().join(".lock")
}

/// Media, library and C programs, once per process. `files` are the media files the caller needs.
pub fn setup(files: &[&str]) -> Result<&'static Setup, String> {
    SETUP.get_or_init(|| do_setup(files)).as_ref().map_err(Clone::clone)
}

/// Keeps a shared lock on the output tree for the rest of the process.
pub fn hold_shared(lock: FileLock) -> Result<(), String> {
    let shared = lock.downgrade()?;
    let _ = HELD.set(shared);
    Ok(())
}

fn do_setup(files: &[&str]) -> Result<Setup, String> {
    ensure_media(files)?;
    ensure_library()?;
    build_c_programs()
}

/// Runs `scripts/gen-media.sh` when the manifest or any needed file is missing. The script takes
/// its own lock on the media directory, so parallel runs wait for each other.
pub fn ensure_media(files: &[&str]) -> Result<(), String> {
    let dir = media_dir();
    let missing = !dir.join("manifest.txt").is_file() || files.iter().any(|f| !dir.join(f).is_file());
    if missing {
        eprintln!("presentation tests: generating test media (scripts/gen-media.sh)");
        run_ok(Command::new("bash").arg(root().join("scripts/gen-media.sh")).current_dir(root()))?;
    }
    for f in files {
        if !dir.join(f).is_file() {
            return Err(format!("{f}: not produced by scripts/gen-media.sh (see target/media/manifest.txt)"));
        }
    }
    Ok(())
}

/// `long` (a `scripts/gen-media.sh --long` file) when it was generated, else `short` (made if
/// missing): tests of figures measured on 2-hour files hold their rules on the standard media
/// of a clean checkout too. The flag says which one it is.
pub fn long_media_or(long: &str, short: &str) -> (PathBuf, bool) {
    let dir = media_dir();
    if dir.join(long).is_file() {
        return (dir.join(long), true);
    }
    ensure_media(&[short]).expect("media");
    (dir.join(short), false)
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn newest_source() -> Option<SystemTime> {
    let mut newest = None;
    let mut consider = |p: &Path| {
        if let Some(t) = mtime(p) {
            newest = Some(newest.map_or(t, |n: SystemTime| n.max(t)));
        }
    };
    consider(&root().join("Cargo.toml"));
    consider(&root().join("build.rs"));
    if let Ok(rd) = std::fs::read_dir(root().join("src")) {
        for e in rd.flatten() {
            consider(&e.path());
        }
    }
    newest
}

/// The cdylib the C programs link against: `cargo test --release` produces it beside the rlib.
/// When it is missing or older than the sources, builds it (under a lock).
pub fn ensure_library() -> Result<PathBuf, String> {
    let so = root().join("target/release/libhls.so");
    let fresh = |so: &Path| match (mtime(so), newest_source()) {
        (Some(a), Some(b)) => a >= b,
        (Some(_), None) => true,
        _ => false,
    };
    if fresh(&so) {
        return Ok(so);
    }
    let _lock = FileLock::exclusive(&out_root().join(".build.lock"))?;
    if !fresh(&so) {
        eprintln!("presentation tests: target/release/libhls.so missing or stale: cargo build --release --lib");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        run_ok(Command::new(cargo).args(["build", "--release", "--lib"]).current_dir(root()))?;
    }
    if !so.is_file() {
        return Err(format!("{} was not produced by the build", so.display()));
    }
    Ok(so)
}

/// Builds the C programs with `make -C examples-c`; when the Makefile is not there (or fails),
/// compiles `examples-c/hls-dump.c` directly so the tests still have a crawler.
pub fn build_c_programs() -> Result<Setup, String> {
    let root = root();
    let _lock = FileLock::exclusive(&out_root().join(".build.lock"))?;
    let libdir = root.join("target/release");
    let include = root.join("include");
    let mut make_err = String::from("examples-c/Makefile does not exist yet");
    if root.join("examples-c/Makefile").is_file() {
        let r = run_ok(
            Command::new("make")
                .arg("-s")
                .arg("-C")
                .arg(root.join("examples-c"))
                .arg(format!("LIBDIR={}", libdir.display()))
                .arg(format!("INCLUDE={}", include.display())),
        );
        match r {
            Ok(_) if root.join("examples-c/hls-dump").is_file() => {
                return Ok(Setup { hls_dump: root.join("examples-c/hls-dump"), how: "make -C examples-c".into() });
            }
            Ok(_) => make_err = "make -C examples-c did not produce examples-c/hls-dump".into(),
            Err(e) => make_err = e,
        }
    }
    let bin_dir = out_root().join("bin");
    std::fs::create_dir_all(&bin_dir).map_err(|e| e.to_string())?;
    let bin = bin_dir.join("hls-dump");
    run_ok(
        Command::new("cc")
            .args(["-std=c11", "-O2", "-Wall", "-Wextra", "-pthread"])
            .arg("-I")
            .arg(&include)
            .arg("-o")
            .arg(&bin)
            .arg(root.join("examples-c/hls-dump.c"))
            .arg(format!("-L{}", libdir.display()))
            .arg(format!("-Wl,-rpath,{}", libdir.display()))
            .arg("-lhls"),
    )
    .map_err(|e| format!("{make_err}\nand compiling examples-c/hls-dump.c directly failed too: {e}"))?;
    eprintln!("presentation tests: using {} (built with cc: {})", bin.display(), make_err.lines().next().unwrap_or(""));
    Ok(Setup { hls_dump: bin, how: "cc examples-c/hls-dump.c".into() })
}

/// Crawls `src` into `out` (removed first) with `hls-dump`.
pub fn crawl(hls_dump: &Path, src: &Path, out: &Path) -> Result<(), String> {
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| format!("rm -r {}: {e}", out.display()))?;
    }
    let o = run(Command::new(hls_dump).arg(src).arg(out).env("LD_LIBRARY_PATH", root().join("target/release")))?;
    if !o.status.success() {
        return Err(format!(
            "hls-dump {} failed ({}): {}",
            src.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(())
}

/// Every regular file under `dir` (relative names) with its bytes.
pub fn read_tree(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let e = e.map_err(|e| e.to_string())?;
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?);
            }
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// ffprobe
// ------------------------------------------------------------------------------------------------

/// One packet as ffprobe reports it.
#[derive(Clone, Debug)]
pub struct Packet {
    pub pts: Option<i64>,
    pub dts: Option<i64>,
    pub duration: Option<i64>,
    pub size: u64,
    pub key: bool,
    /// Flag `D`: the demuxer marks it to be discarded (e.g. an edit list trims it away).
    pub discard: bool,
}

/// One stream as ffprobe reports it (with `-count_frames` and its packets).
#[derive(Clone, Debug, Default)]
pub struct Stream {
    pub index: usize,
    pub codec_type: String,
    pub codec_name: String,
    pub profile: Option<String>,
    pub level: Option<i64>,
    pub width: u32,
    pub height: u32,
    pub fps: Option<f64>,
    pub channels: u32,
    pub sample_rate: u32,
    pub tb: (i64, i64),
    pub language: Option<String>,
    pub nb_read_frames: Option<u64>,
    pub default: bool,
    pub forced: bool,
    pub attached_pic: bool,
    /// Sample aspect ratio (num, den), when ffprobe reports one.
    pub sar: Option<(i64, i64)>,
    /// Display matrix rotation in degrees (ffprobe's side data), 0 without one.
    pub rotation: i64,
    pub packets: Vec<Packet>,
}

impl Stream {
    /// The size a viewer sees: the sample aspect ratio applied to the width, then width and
    /// height swapped by a quarter-turn rotation.
    pub fn displayed_size(&self) -> (u32, u32) {
        let w = match self.sar {
            Some((n, d)) if n > 0 && d > 0 => ((self.width as i64 * n + d / 2) / d) as u32,
            _ => self.width,
        };
        if self.rotation.rem_euclid(180) == 90 {
            (self.height, w)
        } else {
            (w, self.height)
        }
    }
    /// Seconds of a timestamp in this stream's time base.
    pub fn secs(&self, ts: i64) -> f64 {
        ts as f64 * self.tb.0 as f64 / self.tb.1 as f64
    }
    /// Packets that are presented (not marked discard) and have a pts.
    pub fn presented(&self) -> impl Iterator<Item = &Packet> {
        self.packets.iter().filter(|p| !p.discard && p.pts.is_some())
    }
    /// Sorted presentation times (s) of the presented packets.
    pub fn pts_secs(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.presented().map(|p| self.secs(p.pts.unwrap())).collect();
        v.sort_by(f64::total_cmp);
        v
    }
    /// `(first pts, end = max(pts + duration))` of the presented packets, in seconds.
    pub fn span(&self) -> Option<(f64, f64)> {
        let first = self.presented().map(|p| p.pts.unwrap()).min()?;
        let end = self.presented().map(|p| p.pts.unwrap() + p.duration.unwrap_or(0)).max()?;
        Some((self.secs(first), self.secs(end)))
    }
    /// Typical frame duration in seconds (video: 1/fps; audio: median packet duration).
    pub fn frame_secs(&self) -> f64 {
        if self.codec_type == "video" {
            if let Some(f) = self.fps.filter(|f| *f > 0.0) {
                return 1.0 / f;
            }
        }
        let mut d: Vec<i64> = self.presented().filter_map(|p| p.duration).filter(|d| *d > 0).collect();
        d.sort_unstable();
        d.get(d.len() / 2).map_or(0.0, |m| self.secs(*m))
    }
}

/// Every stream of a file.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    pub streams: Vec<Stream>,
}

impl Probe {
    pub fn stream(&self, index: usize) -> Option<&Stream> {
        self.streams.iter().find(|s| s.index == index)
    }
}

fn rational(v: Option<&Value>) -> Option<(i64, i64)> {
    let s = v?.as_str()?;
    let (a, b) = s.split_once('/')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (b != 0).then_some((a, b))
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `ffprobe -count_frames` + packets of every stream of `path` (decodes the file once).
pub fn ffprobe(path: &Path) -> Result<Probe, String> {
    let out = run_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-show_entries"])
            .arg(
                "stream=index,codec_type,codec_name,profile,level,width,height,avg_frame_rate,r_frame_rate,\
                 channels,sample_rate,time_base,nb_read_frames,sample_aspect_ratio:stream_tags=language:\
                 stream_side_data=rotation:\
                 stream_disposition=default,forced,attached_pic:packet=stream_index,pts,dts,duration,size,flags",
            )
            .args(["-of", "json"])
            .arg(path),
    )
    .map_err(|e| format!("ffprobe {}: {e}", path.display()))?;
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("ffprobe {}: bad JSON: {e}", path.display()))?;
    let mut streams: Vec<Stream> = Vec::new();
    for s in v["streams"].as_array().cloned().unwrap_or_default() {
        let fps = [rational(s.get("avg_frame_rate")), rational(s.get("r_frame_rate"))]
            .into_iter()
            .flatten()
            .find(|(a, _)| *a > 0)
            .map(|(a, b)| a as f64 / b as f64);
        let lang = s["tags"]["language"].as_str().filter(|l| !l.is_empty() && *l != "und").map(str::to_string);
        streams.push(Stream {
            index: int(s.get("index")).unwrap_or(0) as usize,
            codec_type: s["codec_type"].as_str().unwrap_or("").to_string(),
            codec_name: s["codec_name"].as_str().unwrap_or("").to_string(),
            profile: s["profile"].as_str().map(str::to_string),
            level: int(s.get("level")),
            width: int(s.get("width")).unwrap_or(0) as u32,
            height: int(s.get("height")).unwrap_or(0) as u32,
            fps,
            channels: int(s.get("channels")).unwrap_or(0) as u32,
            sample_rate: int(s.get("sample_rate")).unwrap_or(0) as u32,
            tb: rational(s.get("time_base")).unwrap_or((1, 1)),
            language: lang,
            nb_read_frames: int(s.get("nb_read_frames")).map(|n| n as u64),
            default: int(s["disposition"].get("default")) == Some(1),
            forced: int(s["disposition"].get("forced")) == Some(1),
            attached_pic: int(s["disposition"].get("attached_pic")) == Some(1),
            sar: s["sample_aspect_ratio"].as_str().and_then(|r| {
                let (n, d) = r.split_once(':')?;
                Some((n.parse().ok()?, d.parse().ok()?))
            }),
            rotation: s["side_data_list"]
                .as_array()
                .and_then(|l| l.iter().find_map(|sd| sd.get("rotation").and_then(Value::as_i64)))
                .unwrap_or(0),
            packets: Vec::new(),
        });
    }
    for p in v["packets"].as_array().cloned().unwrap_or_default() {
        let idx = int(p.get("stream_index")).unwrap_or(-1);
        let Some(s) = streams.iter_mut().find(|s| s.index as i64 == idx) else { continue };
        let flags = p["flags"].as_str().unwrap_or("");
        s.packets.push(Packet {
            pts: int(p.get("pts")),
            dts: int(p.get("dts")),
            duration: int(p.get("duration")),
            size: int(p.get("size")).unwrap_or(0) as u64,
            key: flags.contains('K'),
            discard: flags.contains('D'),
        });
    }
    Ok(Probe { streams })
}

// ------------------------------------------------------------------------------------------------
// Playlists
// ------------------------------------------------------------------------------------------------

/// One attribute of an attribute list: name, value (quotes removed), whether it was quoted.
#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    pub name: String,
    pub value: String,
    pub quoted: bool,
}

/// Parses an HLS attribute list (`A=1,B="x,y",C=NO`). Malformed lists return an error.
pub fn parse_attrs(s: &str) -> Result<Vec<Attr>, String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        if i >= b.len() {
            return Err(format!("attribute without '=' in '{s}'"));
        }
        let name = s[start..i].to_string();
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-') {
            return Err(format!("bad attribute name '{name}' in '{s}'"));
        }
        i += 1;
        let (value, quoted) = if i < b.len() && b[i] == b'"' {
            let vs = i + 1;
            let Some(end) = s[vs..].find('"') else { return Err(format!("unterminated quoted string in '{s}'")) };
            i = vs + end + 1;
            (s[vs..vs + end].to_string(), true)
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            (s[vs..i].to_string(), false)
        };
        if i < b.len() {
            if b[i] != b',' {
                return Err(format!("garbage after the value of {name} in '{s}'"));
            }
            i += 1;
        }
        if out.iter().any(|a: &Attr| a.name == name) {
            return Err(format!("attribute {name} repeated in '{s}'"));
        }
        out.push(Attr { name, value, quoted });
    }
    Ok(out)
}

/// Looks an attribute up.
pub fn attr<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name == name)
}

/// A media playlist.
#[derive(Clone, Debug, Default)]
pub struct MediaPlaylist {
    pub text: String,
    pub first_line: String,
    /// Values of every EXT-X-VERSION tag.
    pub versions: Vec<String>,
    /// Values of every EXT-X-TARGETDURATION tag.
    pub target_durations: Vec<String>,
    pub playlist_type: Vec<String>,
    pub endlist: bool,
    /// `#EXT-X-ENDLIST` is the last non-empty line.
    pub endlist_last: bool,
    pub independent: bool,
    /// URI of every EXT-X-MAP.
    pub maps: Vec<String>,
    /// (EXTINF text, EXTINF seconds, URI) per segment.
    pub segments: Vec<(String, f64, String)>,
    /// Structural problems found while parsing.
    pub problems: Vec<String>,
}

impl MediaPlaylist {
    pub fn parse(text: &str) -> MediaPlaylist {
        let mut p = MediaPlaylist { text: text.to_string(), ..Default::default() };
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
        p.first_line = lines.first().copied().unwrap_or("").to_string();
        let mut pending: Option<(String, f64)> = None;
        for l in &lines {
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            if let Some(v) = l.strip_prefix("#EXT-X-VERSION:") {
                p.versions.push(v.to_string());
            } else if let Some(v) = l.strip_prefix("#EXT-X-TARGETDURATION:") {
                p.target_durations.push(v.to_string());
            } else if let Some(v) = l.strip_prefix("#EXT-X-PLAYLIST-TYPE:") {
                p.playlist_type.push(v.to_string());
            } else if l == "#EXT-X-ENDLIST" {
                p.endlist = true;
            } else if l == "#EXT-X-INDEPENDENT-SEGMENTS" {
                p.independent = true;
            } else if let Some(v) = l.strip_prefix("#EXT-X-MAP:") {
                match parse_attrs(v) {
                    Ok(a) => match attr(&a, "URI") {
                        Some(u) if u.quoted => p.maps.push(u.value.clone()),
                        _ => p.problems.push(format!("EXT-X-MAP without a quoted URI: {l}")),
                    },
                    Err(e) => p.problems.push(format!("EXT-X-MAP: {e}")),
                }
            } else if let Some(v) = l.strip_prefix("#EXTINF:") {
                let dur_text = v.split(',').next().unwrap_or("").to_string();
                match dur_text.parse::<f64>() {
                    Ok(d) if d.is_finite() && d >= 0.0 => pending = Some((dur_text, d)),
                    _ => p.problems.push(format!("unparsable EXTINF: {l}")),
                }
            } else if l.starts_with('#') {
                // other tags / comments
            } else {
                match pending.take() {
                    Some((t, d)) => p.segments.push((t, d, l.to_string())),
                    None => p.problems.push(format!("URI line without EXTINF: {l}")),
                }
            }
        }
        if pending.is_some() {
            p.problems.push("EXTINF without a URI at the end".into());
        }
        p.endlist_last =
            lines.iter().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.trim() == "#EXT-X-ENDLIST");
        p
    }

    /// Sum of EXTINF (s).
    pub fn total(&self) -> f64 {
        self.segments.iter().map(|s| s.1).sum()
    }
}

/// A master playlist.
#[derive(Clone, Debug, Default)]
pub struct MasterPlaylist {
    pub text: String,
    pub first_line: String,
    pub versions: Vec<String>,
    pub independent: bool,
    /// Attribute lists of every EXT-X-MEDIA.
    pub media: Vec<Vec<Attr>>,
    /// (attributes, URI) of every EXT-X-STREAM-INF.
    pub variants: Vec<(Vec<Attr>, String)>,
    pub problems: Vec<String>,
}

impl MasterPlaylist {
    pub fn parse(text: &str) -> MasterPlaylist {
        let mut p = MasterPlaylist { text: text.to_string(), ..Default::default() };
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
        p.first_line = lines.first().copied().unwrap_or("").to_string();
        let mut pending: Option<Vec<Attr>> = None;
        for l in &lines {
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            if let Some(v) = l.strip_prefix("#EXT-X-VERSION:") {
                p.versions.push(v.to_string());
            } else if l == "#EXT-X-INDEPENDENT-SEGMENTS" {
                p.independent = true;
            } else if let Some(v) = l.strip_prefix("#EXT-X-MEDIA:") {
                match parse_attrs(v) {
                    Ok(a) => p.media.push(a),
                    Err(e) => p.problems.push(format!("EXT-X-MEDIA: {e}")),
                }
            } else if let Some(v) = l.strip_prefix("#EXT-X-STREAM-INF:") {
                if pending.is_some() {
                    p.problems.push("two EXT-X-STREAM-INF without a URI between them".into());
                }
                match parse_attrs(v) {
                    Ok(a) => pending = Some(a),
                    Err(e) => p.problems.push(format!("EXT-X-STREAM-INF: {e}")),
                }
            } else if l.starts_with('#') {
            } else {
                match pending.take() {
                    Some(a) => p.variants.push((a, l.to_string())),
                    None => p.problems.push(format!("URI line not after EXT-X-STREAM-INF: {l}")),
                }
            }
        }
        if pending.is_some() {
            p.problems.push("EXT-X-STREAM-INF without a URI at the end".into());
        }
        p
    }
}

/// `tN.m3u8` / `tN_init.mp4` / `tN_K.m4s` / `tN_K.vtt` -> N.
pub fn stream_of(name: &str) -> Option<usize> {
    let rest = name.strip_prefix('t')?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

// ------------------------------------------------------------------------------------------------
// ISO-BMFF
// ------------------------------------------------------------------------------------------------

/// One box: type, where it starts, where its payload starts, where it ends (absolute offsets).
#[derive(Clone, Copy, Debug)]
pub struct BoxRef {
    pub kind: [u8; 4],
    pub start: usize,
    pub body: usize,
    pub end: usize,
}

impl BoxRef {
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }
    pub fn is(&self, k: &[u8; 4]) -> bool {
        &self.kind == k
    }
}

fn be(d: &[u8], at: usize, n: usize) -> Result<u64, String> {
    let s = d.get(at..at + n).ok_or_else(|| format!("read of {n} bytes at {at} past the end ({} bytes)", d.len()))?;
    Ok(s.iter().fold(0u64, |a, b| (a << 8) | *b as u64))
}
pub fn u8_at(d: &[u8], at: usize) -> Result<u8, String> {
    Ok(be(d, at, 1)? as u8)
}
pub fn u16_at(d: &[u8], at: usize) -> Result<u16, String> {
    Ok(be(d, at, 2)? as u16)
}
pub fn u32_at(d: &[u8], at: usize) -> Result<u32, String> {
    Ok(be(d, at, 4)? as u32)
}
pub fn u64_at(d: &[u8], at: usize) -> Result<u64, String> {
    be(d, at, 8)
}

/// The boxes in `d[from..to]` (one level).
pub fn boxes(d: &[u8], from: usize, to: usize) -> Result<Vec<BoxRef>, String> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        if to - at < 8 {
            return Err(format!("{} trailing bytes at {at} are not a box", to - at));
        }
        let size32 = u32_at(d, at)? as u64;
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&d[at + 4..at + 8]);
        let (size, header) = match size32 {
            1 => (u64_at(d, at + 8)?, 16),
            0 => ((to - at) as u64, 8),
            s => (s, 8),
        };
        if size < header as u64 || at as u64 + size > to as u64 {
            return Err(format!(
                "box '{}' at {at} has size {size}, beyond its parent (ends at {to})",
                String::from_utf8_lossy(&kind)
            ));
        }
        out.push(BoxRef { kind, start: at, body: at + header, end: at + size as usize });
        at += size as usize;
    }
    Ok(out)
}

/// Children of a container box.
pub fn children(d: &[u8], b: &BoxRef) -> Result<Vec<BoxRef>, String> {
    boxes(d, b.body, b.end)
}

/// The only child of type `k` (error if absent or repeated).
pub fn one(d: &[u8], parent: &BoxRef, k: &[u8; 4]) -> Result<BoxRef, String> {
    let c: Vec<BoxRef> = children(d, parent)?.into_iter().filter(|b| b.is(k)).collect();
    match c.len() {
        1 => Ok(c[0]),
        0 => Err(format!("'{}' has no '{}'", parent.name(), String::from_utf8_lossy(k))),
        n => Err(format!("'{}' has {n} '{}' boxes", parent.name(), String::from_utf8_lossy(k))),
    }
}

/// Follows a path of single children (`moov/trak/mdia`).
pub fn path(d: &[u8], from: &BoxRef, p: &[&[u8; 4]]) -> Result<BoxRef, String> {
    let mut cur = *from;
    for k in p {
        cur = one(d, &cur, k)?;
    }
    Ok(cur)
}

/// (version, flags) of a full box.
pub fn full(d: &[u8], b: &BoxRef) -> Result<(u8, u32), String> {
    let vf = u32_at(d, b.body)?;
    Ok(((vf >> 24) as u8, vf & 0x00ff_ffff))
}

/// What an init segment declares.
#[derive(Clone, Debug, Default)]
pub struct Init {
    pub track_id: u32,
    pub timescale: u32,
    /// mvhd timescale (edit list durations are in it).
    pub movie_timescale: u32,
    pub handler: String,
    /// Sample entry type (avc1, hvc1, mp4a, ac-3, ec-3, Opus, fLaC, ...).
    pub entry: String,
    /// avcC / hvcC / esds / dac3 / dec3 / dOps / dfLa payload (whichever applies).
    pub config: Vec<u8>,
    pub width: u16,
    pub height: u16,
    pub channels: u16,
    pub sample_rate: u32,
    /// NAL length field size (video).
    pub nal_length_size: usize,
    pub trex_duration: u32,
    pub trex_size: u32,
    pub trex_flags: u32,
    /// (segment_duration, media_time) of every edit, when an edit list is present.
    pub edits: Vec<(u64, i64)>,
    /// Problems with the structure (each a full sentence).
    pub problems: Vec<String>,
}

/// How a track's composition times map to the presentation (ISO/IEC 14496-12 8.6.6): leading empty
/// edits delay it, the first media edit starts at `media_time` and may end after a duration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EditTimeline {
    /// Media time (track timescale) presented at `start`.
    pub media_time: i64,
    /// Presentation time (s) where the media edit starts (sum of leading empty edits).
    pub start: f64,
    /// Presentation time (s) where it ends, when the edit has a duration.
    pub end: Option<f64>,
}

impl Init {
    /// The edit list as a timeline (identity when there is none).
    pub fn timeline(&self) -> Result<EditTimeline, String> {
        let mut start = 0f64;
        let mvts = self.movie_timescale.max(1) as f64;
        let mut media = self.edits.iter().filter(|e| e.1 != -1);
        for e in self.edits.iter().take_while(|e| e.1 == -1) {
            start += e.0 as f64 / mvts;
        }
        let Some(&(dur, media_time)) = media.next() else {
            return Ok(EditTimeline { media_time: 0, start, end: None });
        };
        if media.next().is_some() {
            return Err(format!("edit list with several media edits is not supported by the test: {:?}", self.edits));
        }
        let end = (dur > 0).then(|| start + dur as f64 / mvts);
        Ok(EditTimeline { media_time, start, end })
    }
}

/// Parses an init segment (ftyp + moov with one trak and mvex/trex).
pub fn parse_init(d: &[u8]) -> Result<Init, String> {
    let top = boxes(d, 0, d.len())?;
    let mut init = Init::default();
    if top.first().map(|b| b.kind) != Some(*b"ftyp") {
        init.problems.push(format!("first box is '{}', not ftyp", top.first().map_or("(none)".into(), |b| b.name())));
    }
    for b in &top {
        if !matches!(&b.kind, b"ftyp" | b"moov" | b"free" | b"skip" | b"uuid") {
            init.problems.push(format!("unexpected top-level box '{}' in an init segment", b.name()));
        }
    }
    let moov = top.iter().find(|b| b.is(b"moov")).copied().ok_or("no moov box")?;
    let mvhd = one(d, &moov, b"mvhd")?;
    let (v, _) = full(d, &mvhd)?;
    init.movie_timescale = u32_at(d, mvhd.body + if v == 1 { 20 } else { 12 })?;
    let traks: Vec<BoxRef> = children(d, &moov)?.into_iter().filter(|b| b.is(b"trak")).collect();
    if traks.len() != 1 {
        return Err(format!("moov has {} trak boxes (expected exactly 1)", traks.len()));
    }
    let trak = traks[0];
    let tkhd = one(d, &trak, b"tkhd")?;
    let (v, _) = full(d, &tkhd)?;
    init.track_id = u32_at(d, tkhd.body + if v == 1 { 20 } else { 12 })?;
    let mdia = one(d, &trak, b"mdia")?;
    let mdhd = one(d, &mdia, b"mdhd")?;
    let (v, _) = full(d, &mdhd)?;
    init.timescale = u32_at(d, mdhd.body + if v == 1 { 20 } else { 12 })?;
    let hdlr = one(d, &mdia, b"hdlr")?;
    init.handler = String::from_utf8_lossy(d.get(hdlr.body + 8..hdlr.body + 12).ok_or("short hdlr")?).into_owned();
    if let Ok(edts) = one(d, &trak, b"edts") {
        let elst = one(d, &edts, b"elst")?;
        let (v, _) = full(d, &elst)?;
        let n = u32_at(d, elst.body + 4)? as usize;
        let mut at = elst.body + 8;
        for _ in 0..n {
            if v == 1 {
                init.edits.push((u64_at(d, at)?, u64_at(d, at + 8)? as i64));
                at += 20;
            } else {
                init.edits.push((u32_at(d, at)? as u64, u32_at(d, at + 4)? as i32 as i64));
                at += 12;
            }
        }
    }
    let stbl = path(d, &mdia, &[b"minf", b"stbl"])?;
    for (k, off) in [(b"stts", 4usize), (b"stsc", 4), (b"stco", 4)] {
        match one(d, &stbl, k) {
            Ok(b) => {
                if u32_at(d, b.body + off)? != 0 {
                    init.problems.push(format!("{} is not empty", b.name()));
                }
            }
            Err(e) if k != b"stco" => init.problems.push(e),
            Err(_) => {
                if one(d, &stbl, b"co64").is_err() {
                    init.problems.push("stbl has neither stco nor co64".into());
                }
            }
        }
    }
    match one(d, &stbl, b"stsz") {
        Ok(b) => {
            if u32_at(d, b.body + 8)? != 0 {
                init.problems.push("stsz is not empty".into());
            }
        }
        Err(_) if one(d, &stbl, b"stz2").is_ok() => {}
        Err(e) => init.problems.push(e),
    }
    let stsd = one(d, &stbl, b"stsd")?;
    let n = u32_at(d, stsd.body + 4)?;
    if n != 1 {
        init.problems.push(format!("stsd has {n} sample entries (expected 1)"));
    }
    let entries = boxes(d, stsd.body + 8, stsd.end)?;
    let entry = *entries.first().ok_or("stsd has no sample entry")?;
    init.entry = entry.name();
    let visual = init.handler == "vide";
    let child_at = entry.body + if visual { 78 } else { 28 };
    if visual {
        init.width = u16_at(d, entry.body + 24)?;
        init.height = u16_at(d, entry.body + 26)?;
    } else {
        init.channels = u16_at(d, entry.body + 16)?;
        init.sample_rate = u32_at(d, entry.body + 24)? >> 16;
    }
    let kids = boxes(d, child_at, entry.end)?;
    let want: &[&[u8; 4]] = match &entry.kind {
        b"avc1" | b"avc3" => &[b"avcC"],
        b"hvc1" | b"hev1" => &[b"hvcC"],
        b"av01" => &[b"av1C"],
        b"mp4a" => &[b"esds"],
        b"ac-3" => &[b"dac3"],
        b"ec-3" => &[b"dec3"],
        b"Opus" => &[b"dOps"],
        b"fLaC" => &[b"dfLa"],
        _ => &[],
    };
    for w in want {
        match kids.iter().find(|b| b.is(w)) {
            Some(b) => init.config = d[b.body..b.end].to_vec(),
            None => {
                init.problems.push(format!("sample entry {} has no {} box", init.entry, String::from_utf8_lossy(*w)))
            }
        }
    }
    match &entry.kind {
        b"avc1" | b"avc3" if init.config.len() >= 5 => init.nal_length_size = (init.config[4] & 3) as usize + 1,
        b"hvc1" | b"hev1" if init.config.len() >= 22 => init.nal_length_size = (init.config[21] & 3) as usize + 1,
        _ => {}
    }
    let mvex = one(d, &moov, b"mvex").map_err(|e| format!("{e} (an fMP4 init segment needs mvex/trex)"))?;
    let trex = one(d, &mvex, b"trex")?;
    let trex_track = u32_at(d, trex.body + 4)?;
    if trex_track != init.track_id {
        init.problems.push(format!("trex track_ID {trex_track} != tkhd track_ID {}", init.track_id));
    }
    init.trex_duration = u32_at(d, trex.body + 12)?;
    init.trex_size = u32_at(d, trex.body + 16)?;
    init.trex_flags = u32_at(d, trex.body + 20)?;
    Ok(init)
}

/// One sample of a fragment.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
    pub cto: i64,
    /// Absolute offset of the sample's bytes in the segment file.
    pub offset: usize,
}

impl Sample {
    /// `sample_is_non_sync_sample` is clear.
    pub fn is_sync(&self) -> bool {
        self.flags & 0x0001_0000 == 0
    }
    /// `sample_depends_on` (0 unknown, 1 depends on others, 2 does not).
    pub fn depends_on(&self) -> u32 {
        (self.flags >> 24) & 3
    }
}

/// One moof (with its traf) and the mdat after it.
#[derive(Clone, Debug)]
pub struct Fragment {
    pub sequence: u32,
    pub track_id: u32,
    pub tfdt: u64,
    pub samples: Vec<Sample>,
    /// Payload range of the mdat that follows the moof.
    pub mdat: (usize, usize),
    pub problems: Vec<String>,
}

impl Fragment {
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| s.duration as u64).sum()
    }
}

/// Parses a media segment: `[styp] [sidx] (moof mdat)+`.
pub fn parse_segment(d: &[u8], init: &Init) -> Result<Vec<Fragment>, String> {
    let top = boxes(d, 0, d.len())?;
    let mut frags = Vec::new();
    let mut i = 0;
    while i < top.len() {
        let b = top[i];
        match &b.kind {
            b"styp" | b"sidx" | b"prft" | b"emsg" | b"free" | b"skip" => {
                i += 1;
                continue;
            }
            b"moof" => {}
            _ => return Err(format!("unexpected top-level box '{}' at {}", b.name(), b.start)),
        }
        let mdat = top
            .get(i + 1)
            .filter(|m| m.is(b"mdat"))
            .copied()
            .ok_or_else(|| format!("moof at {} is not followed by an mdat", b.start))?;
        frags.push(parse_moof(d, &b, &mdat, init)?);
        i += 2;
    }
    if frags.is_empty() {
        return Err("no moof box".into());
    }
    Ok(frags)
}

fn parse_moof(d: &[u8], moof: &BoxRef, mdat: &BoxRef, init: &Init) -> Result<Fragment, String> {
    let mut problems = Vec::new();
    let mfhd = one(d, moof, b"mfhd")?;
    let sequence = u32_at(d, mfhd.body + 4)?;
    let trafs: Vec<BoxRef> = children(d, moof)?.into_iter().filter(|b| b.is(b"traf")).collect();
    if trafs.len() != 1 {
        return Err(format!("moof has {} traf boxes (expected 1)", trafs.len()));
    }
    let traf = trafs[0];
    let tfhd = one(d, &traf, b"tfhd")?;
    let (_, tf) = full(d, &tfhd)?;
    let track_id = u32_at(d, tfhd.body + 4)?;
    let mut at = tfhd.body + 8;
    let mut base = moof.start as u64;
    if tf & 0x1 != 0 {
        base = u64_at(d, at)?;
        at += 8;
        problems.push("tfhd has base-data-offset-present (an absolute/external data reference)".into());
    } else if tf & 0x20000 == 0 {
        problems.push("tfhd lacks default-base-is-moof".into());
    }
    if tf & 0x2 != 0 {
        at += 4;
    }
    let mut def_dur = init.trex_duration;
    let mut def_size = init.trex_size;
    let mut def_flags = init.trex_flags;
    if tf & 0x8 != 0 {
        def_dur = u32_at(d, at)?;
        at += 4;
    }
    if tf & 0x10 != 0 {
        def_size = u32_at(d, at)?;
        at += 4;
    }
    if tf & 0x20 != 0 {
        def_flags = u32_at(d, at)?;
    }
    let tfdt_box = one(d, &traf, b"tfdt")?;
    let (v, _) = full(d, &tfdt_box)?;
    let tfdt = if v == 1 { u64_at(d, tfdt_box.body + 4)? } else { u32_at(d, tfdt_box.body + 4)? as u64 };
    let truns: Vec<BoxRef> = children(d, &traf)?.into_iter().filter(|b| b.is(b"trun")).collect();
    if truns.is_empty() {
        return Err("traf has no trun".into());
    }
    let mut samples = Vec::new();
    let mut next_offset: Option<u64> = None;
    for trun in truns {
        let (v, f) = full(d, &trun)?;
        let n = u32_at(d, trun.body + 4)? as usize;
        let mut at = trun.body + 8;
        let mut offset = if f & 0x1 != 0 {
            let o = u32_at(d, at)? as i32 as i64;
            at += 4;
            (base as i64 + o) as u64
        } else {
            next_offset.unwrap_or(mdat.body as u64)
        };
        let mut first_flags = None;
        if f & 0x4 != 0 {
            first_flags = Some(u32_at(d, at)?);
            at += 4;
        }
        for k in 0..n {
            let mut s = Sample { duration: def_dur, size: def_size, flags: def_flags, cto: 0, offset: offset as usize };
            if f & 0x100 != 0 {
                s.duration = u32_at(d, at)?;
                at += 4;
            }
            if f & 0x200 != 0 {
                s.size = u32_at(d, at)?;
                at += 4;
            }
            if f & 0x400 != 0 {
                s.flags = u32_at(d, at)?;
                at += 4;
            } else if k == 0 {
                if let Some(ff) = first_flags {
                    s.flags = ff;
                }
            }
            if f & 0x800 != 0 {
                let raw = u32_at(d, at)?;
                s.cto = if v == 0 { raw as i64 } else { raw as i32 as i64 };
                at += 4;
            }
            offset += s.size as u64;
            samples.push(s);
        }
        if at > trun.end {
            return Err(format!("trun with {n} samples overruns its box"));
        }
        next_offset = Some(offset);
    }
    Ok(Fragment { sequence, track_id, tfdt, samples, mdat: (mdat.body, mdat.end), problems })
}

/// NAL unit types of one length-prefixed video sample (H.264: `b & 0x1f`, HEVC: `(b >> 1) & 0x3f`).
pub fn nal_types(sample: &[u8], length_size: usize, hevc: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    if length_size == 0 {
        return Err("unknown NAL length size".into());
    }
    while at < sample.len() {
        let n = be(sample, at, length_size)? as usize;
        at += length_size;
        if n == 0 || at + n > sample.len() {
            return Err(format!("NAL of {n} bytes at {at} overruns the {}-byte sample", sample.len()));
        }
        let h = sample[at];
        out.push(if hevc { (h >> 1) & 0x3f } else { h & 0x1f });
        at += n;
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// Codec strings
// ------------------------------------------------------------------------------------------------

/// H.264 profile_idc from ffprobe's profile name.
pub fn h264_profile_idc(name: &str) -> Option<u8> {
    Some(match name {
        "Baseline" | "Constrained Baseline" => 66,
        "Main" => 77,
        "Extended" => 88,
        "High" | "Constrained High" | "Progressive High" => 100,
        "High 10" | "High 10 Intra" => 110,
        "High 4:2:2" | "High 4:2:2 Intra" => 122,
        "High 4:4:4" | "High 4:4:4 Predictive" | "High 4:4:4 Intra" => 244,
        _ => return None,
    })
}

/// HEVC general_profile_idc from ffprobe's profile name.
pub fn hevc_profile_idc(name: &str) -> Option<u8> {
    Some(match name {
        "Main" => 1,
        "Main 10" => 2,
        "Main Still Picture" => 3,
        "Rext" => 4,
        _ => return None,
    })
}

/// The RFC 6381 `hvc1.` string an hvcC describes (ISO/IEC 14496-15 Annex E).
pub fn hevc_codec_string(hvcc: &[u8], prefix: &str) -> Option<String> {
    if hvcc.len() < 13 {
        return None;
    }
    let space = hvcc[1] >> 6;
    let tier = (hvcc[1] >> 5) & 1;
    let profile = hvcc[1] & 0x1f;
    let compat = u32::from_be_bytes([hvcc[2], hvcc[3], hvcc[4], hvcc[5]]).reverse_bits();
    let constraints = &hvcc[6..12];
    let level = hvcc[12];
    let mut s = format!(
        "{prefix}.{}{profile}.{compat:X}.{}{level}",
        ["", "A", "B", "C"][space as usize],
        if tier == 1 { "H" } else { "L" }
    );
    let keep = constraints.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
    for b in &constraints[..keep] {
        s.push_str(&format!(".{b:X}"));
    }
    Some(s)
}

/// AAC audio object type of an esds payload (from its DecoderSpecificInfo), and the
/// objectTypeIndication of its DecoderConfigDescriptor.
pub fn esds_info(esds: &[u8]) -> Option<(u8, Option<u8>)> {
    // Full box header (4 bytes), then descriptors: tag, length (1-4 bytes, 7 bits each), payload.
    fn desc(d: &[u8], at: usize) -> Option<(u8, usize, usize)> {
        let tag = *d.get(at)?;
        let mut len = 0usize;
        let mut i = at + 1;
        for _ in 0..4 {
            let b = *d.get(i)?;
            i += 1;
            len = (len << 7) | (b & 0x7f) as usize;
            if b & 0x80 == 0 {
                break;
            }
        }
        Some((tag, i, i + len))
    }
    let (tag, body, _) = desc(esds, 4)?;
    if tag != 3 {
        return None;
    }
    let flags = *esds.get(body + 2)?;
    let mut at = body + 3;
    if flags & 0x80 != 0 {
        at += 2;
    }
    if flags & 0x40 != 0 {
        at += 1 + *esds.get(at)? as usize;
    }
    if flags & 0x20 != 0 {
        at += 2;
    }
    let (tag, dcd, dcd_end) = desc(esds, at)?;
    if tag != 4 {
        return None;
    }
    let oti = *esds.get(dcd)?;
    let (tag, dsi, _) = desc(esds, dcd + 13).filter(|(_, _, e)| *e <= dcd_end)?;
    if tag != 5 {
        return Some((0, Some(oti)));
    }
    let mut aot = esds.get(dsi)? >> 3;
    if aot == 31 {
        aot = 32 + (((esds.get(dsi)? & 7) << 3) | (esds.get(dsi + 1)? >> 5));
    }
    Some((aot, Some(oti)))
}

/// True when a VP9 frame (or a superframe's first frame) is a key frame: frame marker 2,
/// show_existing_frame 0, frame_type 0 (VP9 bitstream 6.2).
pub fn vp9_key_frame(frame: &[u8]) -> bool {
    let Some(&b) = frame.first() else { return false };
    if b >> 6 != 2 {
        return false;
    }
    let profile = (b >> 5 & 1) | (b >> 4 & 1) << 1;
    // With profile 3 a reserved bit follows the profile bits.
    let at = if profile == 3 { 5 } else { 4 };
    let bit = |k: u32| b >> (7 - k) & 1;
    bit(at) == 0 && bit(at + 1) == 0
}

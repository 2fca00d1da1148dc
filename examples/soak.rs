//! Soak test of libhls through its C API (issue #18): many threads serving many files from one
//! context for a long time, with a cache smaller than the working set and files changing on disk
//! underneath. Prints one row per window (requests, p50/p99 latency, errors by status, RSS, open
//! descriptors) and exits non-zero if RSS or descriptors grow after warm-up beyond the stated
//! tolerance, or if any unexpected error (or a wrong byte) occurs.
//!
//! Run through `scripts/soak.sh` (builds with `--release`, runs under `nice -n 19`). Settings
//! (environment): `SOAK_MINUTES` (default 60), `SOAK_WINDOW_SECS` (default 300), `SOAK_THREADS`
//! (16), `SOAK_FILES` (50), `SOAK_CACHE_MB` (24), `SOAK_CHANGE_SECS` (5: every so often one
//! file is replaced by a fresh copy, renamed over it, and another is touched),
//! `SOAK_DIR` (default `target/soak`), `SOAK_MEDIA` (default `target/media`).
//!
//! What is checked:
//! - every response of a (file, name) has the same bytes as the first one seen (the copies and
//!   their replacements have identical content), through `hls_get` and `hls_get_parts` (file
//!   ranges read back with `pread`);
//! - the only error status allowed is `HLS_ERR_FILE_CHANGED` (a handle used after its file was
//!   touched or replaced; the thread then reopens the file);
//! - after the warm-up window, every window's peak RSS stays within max(10 %, 32 MiB) of the
//!   warm-up peak, and its peak descriptor count within 2 × threads of the warm-up peak (each
//!   request in flight may hold a demuxer's descriptor: how many are in flight at a sampling
//!   moment varies with the load, which a leak would outgrow).

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, CString};
use std::fs::File;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hls::ffi::*;

/// Distinct sources copied into the soak directory (round-robin until `SOAK_FILES` copies).
const SOURCES: &[&str] = &[
    "h264_aac.mp4",
    "dts.mkv",
    "subs.mp4",
    "h264_aac.mkv",
    "vorbis.mkv",
    "mkvmerge_subs.mkv",
    "h264_aac.ts",
    "ac3_51.mp4",
    "subs_outlast.mkv",
    "hevc_aac.mp4",
    "pcm.mov",
    "roles.mkv",
    "hevc_aac.mkv",
    "multi_audio.mkv",
    "h264_aac_frag.mp4",
    "vp9_opus.webm",
    "audio_only.mp3",
    "audio_only.m4a",
    "no_bframes.mkv",
    "video_only.mp4",
    "offset_start.mp4",
    "h264_opengop.mkv",
    "opus_flac.mkv",
    "vfr.mkv",
    "multi_audio.mp4",
];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// xorshift64*: a small deterministic generator per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// FNV-1a: enough to notice a changed byte.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Playlist,
    Segment,
    Transcode,
    Subtitle,
}

const KINDS: [Kind; 4] = [Kind::Playlist, Kind::Segment, Kind::Transcode, Kind::Subtitle];

/// Names of one file, by kind of request.
#[derive(Default, Clone)]
struct Names {
    by_kind: BTreeMap<Kind, Vec<String>>,
}

struct SoakFile {
    path: PathBuf,
    source: PathBuf,
    cpath: CString,
    names: Names,
}

fn status_name(s: HlsStatus) -> String {
    // SAFETY: hls_status_str returns a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(hls_status_str(s as i32)) }.to_string_lossy().into_owned();
    text.split(':').next().unwrap_or("?").to_string()
}

/// Serves `name` with `hls_get`: the bytes, or the status.
fn get_bytes(m: *mut HlsMedia, name: &CStr) -> Result<Vec<u8>, HlsStatus> {
    let mut buf = HlsBuffer { data: ptr::null(), len: 0, content_type: ptr::null(), _private: ptr::null_mut() };
    // SAFETY: `m` is an open handle, `name` a C string, `buf` ours.
    let st = unsafe { hls_get(m, name.as_ptr(), &mut buf) };
    if st != HlsStatus::HLS_OK {
        return Err(st);
    }
    // SAFETY: on success `data` holds `len` bytes until hls_free_buffer.
    let v = unsafe { std::slice::from_raw_parts(buf.data, buf.len) }.to_vec();
    // SAFETY: `buf` was filled by hls_get.
    unsafe { hls_free_buffer(&mut buf) };
    Ok(v)
}

/// Serves `name` with `hls_get_parts` and assembles its bytes as a server would (file ranges
/// read with `pread` from the descriptor libhls gives). `Err(None)` is a short read.
fn get_parts(m: *mut HlsMedia, name: &CStr) -> Result<Vec<u8>, Option<HlsStatus>> {
    // SAFETY: an all-zero HlsParts is a valid empty one (fd is set by the call).
    let mut parts: HlsParts = unsafe { std::mem::zeroed() };
    // SAFETY: `m` is an open handle, `name` a C string, `parts` ours.
    let st = unsafe { hls_get_parts(m, name.as_ptr(), &mut parts) };
    if st != HlsStatus::HLS_OK {
        return Err(Some(st));
    }
    let mut out = Vec::with_capacity(parts.len as usize);
    // SAFETY: on success `parts` points to `count` parts until hls_free_parts.
    let list = unsafe { std::slice::from_raw_parts(parts.parts, parts.count) };
    let mut short = false;
    for p in list {
        match p.kind {
            HlsPartKind::HLS_PART_BYTES => {
                // SAFETY: a bytes part holds `len` bytes at `data`.
                out.extend_from_slice(unsafe { std::slice::from_raw_parts(p.data, p.len as usize) })
            }
            HlsPartKind::HLS_PART_FILE => {
                // SAFETY: `fd` stays open until hls_free_parts; ManuallyDrop never closes it.
                let f = ManuallyDrop::new(unsafe { File::from_raw_fd(parts.fd) });
                let at = out.len();
                out.resize(at + p.len as usize, 0);
                if f.read_exact_at(&mut out[at..], p.offset).is_err() {
                    short = true;
                }
            }
        }
    }
    // SAFETY: `parts` was filled by hls_get_parts.
    unsafe { hls_free_parts(&mut parts) };
    if short {
        Err(None)
    } else {
        Ok(out)
    }
}

/// Every name a presentation serves, sorted into request kinds.
fn discover(ctx: *mut HlsContext, path: &CStr) -> Names {
    let mut m: *mut HlsMedia = ptr::null_mut();
    // SAFETY: ctx is live, path a C string, m ours.
    let st = unsafe { hls_open(ctx, path.as_ptr(), &mut m) };
    assert_eq!(st, HlsStatus::HLS_OK, "open {path:?}");
    let mut info = HlsBuffer { data: ptr::null(), len: 0, content_type: ptr::null(), _private: ptr::null_mut() };
    // SAFETY: m is open; info ours.
    assert_eq!(unsafe { hls_media_info_json(m, &mut info) }, HlsStatus::HLS_OK);
    // SAFETY: success: `len` bytes at `data`.
    let info_text = unsafe { std::slice::from_raw_parts(info.data, info.len) }.to_vec();
    // SAFETY: filled by hls_media_info_json.
    unsafe { hls_free_buffer(&mut info) };
    let info: serde_json::Value = serde_json::from_slice(&info_text).expect("info json");
    let transcoded: Vec<String> = info["tracks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["delivery"] == "transcode-aac")
        .filter_map(|t| t["rendition"].as_str().map(|r| format!("t{r}_")))
        .collect();

    let mut names = Names::default();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    let master = text(get_bytes(m, c"master.m3u8").expect("master"));
    let mut playlists: Vec<String> =
        master.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(String::from).collect();
    for l in master.lines().filter(|l| l.starts_with("#EXT-X-MEDIA") || l.starts_with("#EXT-X-I-FRAME-STREAM-INF")) {
        if let Some(u) = l.split("URI=\"").nth(1).and_then(|r| r.split('"').next()) {
            playlists.push(u.to_string());
        }
    }
    playlists.sort();
    playlists.dedup();
    let mut push = |k: Kind, n: String| names.by_kind.entry(k).or_default().push(n);
    push(Kind::Playlist, "master.m3u8".into());
    for p in playlists {
        let pl = text(get_bytes(m, &CString::new(p.clone()).unwrap()).expect("media playlist"));
        push(Kind::Playlist, p.clone());
        if let Some(stem) = p.strip_suffix(".m3u8") {
            if pl.contains(".vtt") {
                push(Kind::Subtitle, format!("{stem}.vtt"));
            }
        }
        for l in pl.lines() {
            let n = if let Some(u) = l.strip_prefix("#EXT-X-MAP:URI=\"").and_then(|r| r.split('"').next()) {
                u.to_string()
            } else if !l.starts_with('#') && !l.is_empty() {
                l.to_string()
            } else {
                continue;
            };
            let k = if n.ends_with(".vtt") {
                Kind::Subtitle
            } else if n.ends_with(".m4s") && transcoded.iter().any(|t| n.starts_with(t.as_str())) {
                Kind::Transcode
            } else {
                Kind::Segment
            };
            push(k, n);
        }
    }
    for v in names.by_kind.values_mut() {
        v.sort();
        v.dedup();
    }
    // SAFETY: m from hls_open, closed once.
    unsafe { hls_close(m) };
    names
}

/// Counters of one window.
#[derive(Default)]
struct Window {
    latencies_us: Vec<u32>,
    by_kind: BTreeMap<Kind, u64>,
    errors: BTreeMap<String, u64>,
    unexpected: u64,
    max_rss_kib: u64,
    max_fds: u64,
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn fd_count() -> u64 {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

struct Shared {
    files: Vec<SoakFile>,
    /// Indices of the files that have names of each kind.
    with_kind: BTreeMap<Kind, Vec<usize>>,
    hashes: Mutex<HashMap<(usize, String), u64>>,
    window: Mutex<Window>,
    stop: AtomicBool,
    changes: AtomicU64,
}

/// Replaces `f` by a fresh copy of its source (written beside it, renamed over it).
fn replace(f: &SoakFile) -> std::io::Result<()> {
    let tmp = f.path.with_extension("tmp-soak");
    std::fs::copy(&f.source, &tmp)?;
    std::fs::rename(&tmp, &f.path)
}

/// Sets the file's modification time to now (same bytes, new version for libhls).
fn touch(path: &Path) -> std::io::Result<()> {
    File::options().append(true).open(path)?.set_modified(std::time::SystemTime::now())
}

fn worker(sh: Arc<Shared>, ctx: usize, seed: u64) {
    let ctx = ctx as *mut HlsContext;
    let mut rng = Rng(seed | 1);
    // Up to 4 handles held per thread, as a server keeps media open between requests.
    let mut held: Vec<(usize, *mut HlsMedia)> = Vec::new();
    while !sh.stop.load(Ordering::Relaxed) {
        // playlist 30 %, segment 40 %, transcode 15 %, subtitle 15 %
        let r = rng.below(100);
        let kind = match r {
            0..=29 => Kind::Playlist,
            30..=69 => Kind::Segment,
            70..=84 => Kind::Transcode,
            _ => Kind::Subtitle,
        };
        let Some(candidates) = sh.with_kind.get(&kind) else { continue };
        let fi = candidates[rng.below(candidates.len())];
        let names = &sh.files[fi].names.by_kind[&kind];
        let name = names[rng.below(names.len())].clone();
        let cname = CString::new(name.clone()).unwrap();
        let use_parts = kind != Kind::Playlist && rng.below(2) == 0;

        let t0 = Instant::now();
        let mut status: Result<Vec<u8>, String> = Err(String::new());
        let pos = held.iter().position(|(i, _)| *i == fi);
        let m = match pos {
            Some(p) => held[p].1,
            None => {
                let mut m: *mut HlsMedia = ptr::null_mut();
                // SAFETY: ctx is live until every worker has joined; m ours.
                let st = unsafe { hls_open(ctx, sh.files[fi].cpath.as_ptr(), &mut m) };
                if st != HlsStatus::HLS_OK {
                    status = Err(status_name(st));
                    ptr::null_mut()
                } else {
                    if held.len() >= 4 {
                        let (_, old) = held.remove(rng.below(held.len()));
                        // SAFETY: a handle of ours, not used by another thread.
                        unsafe { hls_close(old) };
                    }
                    held.push((fi, m));
                    m
                }
            }
        };
        if !m.is_null() {
            status = if use_parts {
                get_parts(m, &cname).map_err(|e| e.map_or("SHORT_READ".to_string(), status_name))
            } else {
                get_bytes(m, &cname).map_err(status_name)
            };
            let drop_handle = matches!(&status, Err(s) if s == "HLS_ERR_FILE_CHANGED") || rng.below(16) == 0;
            if drop_handle {
                if let Some(p) = held.iter().position(|(_, h)| *h == m) {
                    held.remove(p);
                }
                // SAFETY: a handle of ours, removed from `held`, closed once.
                unsafe { hls_close(m) };
            }
        }
        let us = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;

        let mut unexpected = false;
        let mut err = None;
        match &status {
            Ok(bytes) => {
                let h = fnv(bytes);
                let mut hashes = sh.hashes.lock().unwrap();
                let seen = *hashes.entry((fi, name.clone())).or_insert(h);
                if seen != h {
                    eprintln!("WRONG BYTES: {} {name} ({} bytes)", sh.files[fi].path.display(), bytes.len());
                    err = Some("WRONG_BYTES".to_string());
                    unexpected = true;
                }
            }
            Err(s) => {
                if s != "HLS_ERR_FILE_CHANGED" {
                    eprintln!("unexpected {s}: {} {name}", sh.files[fi].path.display());
                    unexpected = true;
                }
                err = Some(s.clone());
            }
        }
        let mut w = sh.window.lock().unwrap();
        w.latencies_us.push(us);
        *w.by_kind.entry(kind).or_default() += 1;
        if let Some(e) = err {
            *w.errors.entry(e).or_default() += 1;
        }
        if unexpected {
            w.unexpected += 1;
        }
    }
    for (_, m) in held {
        // SAFETY: handles of ours, closed once.
        unsafe { hls_close(m) };
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let minutes = env_u64("SOAK_MINUTES", 60);
    let window_secs = env_u64("SOAK_WINDOW_SECS", 300).max(1);
    let threads = env_u64("SOAK_THREADS", 16) as usize;
    let nfiles = env_u64("SOAK_FILES", 50) as usize;
    let cache_mb = env_u64("SOAK_CACHE_MB", 24);
    let change_secs = env_u64("SOAK_CHANGE_SECS", 5).max(1);
    let media = std::env::var_os("SOAK_MEDIA").map(PathBuf::from).unwrap_or_else(|| root.join("target/media"));
    let dir = std::env::var_os("SOAK_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target/soak"));

    // Copies (never hard links: the soak touches and replaces them, the shared media must stay).
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("soak dir");
    let sources: Vec<PathBuf> = SOURCES.iter().map(|s| media.join(s)).filter(|p| p.is_file()).collect();
    assert!(!sources.is_empty(), "no media under {} (run scripts/gen-media.sh)", media.display());
    let mut files = Vec::new();
    let mut total_bytes = 0u64;
    for i in 0..nfiles {
        let source = sources[i % sources.len()].clone();
        let path = dir.join(format!("{i:02}_{}", source.file_name().unwrap().to_string_lossy()));
        total_bytes += std::fs::copy(&source, &path).expect("copy media");
        let cpath = CString::new(path.to_str().unwrap()).unwrap();
        files.push(SoakFile { path, source, cpath, names: Names::default() });
    }

    let cfg = hls_config_new();
    // SAFETY: cfg from hls_config_new, used by this thread only, freed once.
    let ctx = unsafe {
        assert_eq!(hls_config_set_cache_bytes(cfg, cache_mb << 20), HlsStatus::HLS_OK);
        let ctx = hls_context_new(cfg);
        hls_config_free(cfg);
        ctx
    };
    assert!(!ctx.is_null());
    let mut with_kind: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
    for (i, f) in files.iter_mut().enumerate() {
        f.names = discover(ctx, &f.cpath);
        for (k, v) in &f.names.by_kind {
            if !v.is_empty() {
                with_kind.entry(*k).or_default().push(i);
            }
        }
    }
    let count = |k: Kind| files.iter().map(|f| f.names.by_kind.get(&k).map_or(0, Vec::len)).sum::<usize>();
    println!(
        "soak: {minutes} min, {threads} threads, {nfiles} files ({} distinct, {:.0} MiB on disk), cache {cache_mb} MiB, \
         a file replaced and another touched every {change_secs} s, windows of {window_secs} s",
        sources.len(),
        total_bytes as f64 / 1048576.0
    );
    println!(
        "names: {} playlists, {} segments, {} transcoded segments, {} subtitle names (files with each kind: {:?})",
        count(Kind::Playlist),
        count(Kind::Segment),
        count(Kind::Transcode),
        count(Kind::Subtitle),
        KINDS.iter().map(|k| with_kind.get(k).map_or(0, Vec::len)).collect::<Vec<_>>()
    );
    for k in KINDS {
        assert!(with_kind.contains_key(&k), "no file has names of kind {k:?}");
    }

    let sh = Arc::new(Shared {
        files,
        with_kind,
        hashes: Mutex::new(HashMap::new()),
        window: Mutex::new(Window::default()),
        stop: AtomicBool::new(false),
        changes: AtomicU64::new(0),
    });
    let start = Instant::now();
    let end = start + Duration::from_secs(minutes * 60);
    let mut handles = Vec::new();
    for t in 0..threads {
        let sh = sh.clone();
        let c = ctx as usize;
        handles.push(std::thread::spawn(move || worker(sh, c, 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(t as u64 + 1))));
    }
    let changer = {
        let sh = sh.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(0x1234_5678_9abc_def1);
            let mut next = Instant::now() + Duration::from_secs(change_secs);
            while !sh.stop.load(Ordering::Relaxed) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                next += Duration::from_secs(change_secs);
                let a = rng.below(sh.files.len());
                let b = rng.below(sh.files.len());
                replace(&sh.files[a]).expect("replace a soak file");
                touch(&sh.files[b].path).expect("touch a soak file");
                sh.changes.fetch_add(2, Ordering::Relaxed);
            }
        })
    };

    println!();
    println!(
        "| window | minutes | requests | req/s | p50 ms | p99 ms | max ms | pl/seg/tx/sub | errors by status | RSS MiB (peak) | fds (peak) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows: Vec<(u64, u64)> = Vec::new(); // (peak RSS KiB, peak fds) per window
    let mut unexpected_total = 0;
    let mut n = 0;
    let mut window_start = Instant::now();
    while Instant::now() < end {
        n += 1;
        let window_end = (window_start + Duration::from_secs(window_secs)).min(end);
        let (mut peak_rss, mut peak_fds) = (0, 0);
        while Instant::now() < window_end {
            std::thread::sleep(Duration::from_millis(1000).min(window_end.saturating_duration_since(Instant::now())));
            peak_rss = peak_rss.max(rss_kib());
            peak_fds = peak_fds.max(fd_count());
        }
        let mut w = std::mem::take(&mut *sh.window.lock().unwrap());
        w.max_rss_kib = peak_rss;
        w.max_fds = peak_fds;
        let secs = window_start.elapsed().as_secs_f64();
        window_start = Instant::now();
        w.latencies_us.sort_unstable();
        let reqs = w.latencies_us.len();
        let errors = if w.errors.is_empty() {
            "none".to_string()
        } else {
            w.errors.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        let kinds =
            KINDS.iter().map(|k| w.by_kind.get(k).copied().unwrap_or(0).to_string()).collect::<Vec<_>>().join("/");
        println!(
            "| {n}{} | {:.1} | {reqs} | {:.0} | {:.2} | {:.2} | {:.1} | {kinds} | {errors} | {:.1} | {} |",
            if n == 1 { " (warm-up)" } else { "" },
            start.elapsed().as_secs_f64() / 60.0,
            reqs as f64 / secs,
            percentile(&w.latencies_us, 0.50),
            percentile(&w.latencies_us, 0.99),
            percentile(&w.latencies_us, 1.0),
            w.max_rss_kib as f64 / 1024.0,
            w.max_fds
        );
        unexpected_total += w.unexpected;
        rows.push((w.max_rss_kib, w.max_fds));
    }
    sh.stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("worker");
    }
    changer.join().expect("changer");
    let mut stats = HlsBuffer { data: ptr::null(), len: 0, content_type: ptr::null(), _private: ptr::null_mut() };
    // SAFETY: ctx live; stats ours, freed once; then ctx freed once after every worker joined.
    unsafe {
        if hls_context_stats_json(ctx, &mut stats) == HlsStatus::HLS_OK {
            println!("\ncontext: {}", String::from_utf8_lossy(std::slice::from_raw_parts(stats.data, stats.len)));
            hls_free_buffer(&mut stats);
        }
        hls_context_free(ctx);
    }
    println!("file changes: {}", sh.changes.load(Ordering::Relaxed));

    let mut failed = Vec::new();
    if unexpected_total > 0 {
        failed.push(format!("{unexpected_total} unexpected errors or wrong bytes"));
    }
    if rows.len() >= 2 {
        let (base_rss, base_fds) = rows[0];
        let rss_limit = base_rss + (base_rss / 10).max(32 * 1024);
        let fds_limit = base_fds + 2 * threads as u64;
        for (i, (rss, fds)) in rows.iter().enumerate().skip(1) {
            if *rss > rss_limit {
                failed.push(format!(
                    "window {}: RSS {} KiB over {} KiB (warm-up peak + max(10 %, 32 MiB))",
                    i + 1,
                    rss,
                    rss_limit
                ));
            }
            if *fds > fds_limit {
                failed.push(format!("window {}: {} fds over {} (warm-up peak + 2 x threads)", i + 1, fds, fds_limit));
            }
        }
        println!(
            "tolerance after warm-up: RSS <= {:.1} MiB, fds <= {fds_limit}; last window RSS {:.1} MiB, fds {}",
            rss_limit as f64 / 1024.0,
            rows.last().unwrap().0 as f64 / 1024.0,
            rows.last().unwrap().1
        );
    } else {
        println!("only one window: no growth check (run longer than one window)");
    }
    let _ = std::fs::remove_dir_all(&dir);
    if failed.is_empty() {
        println!("soak: PASS");
    } else {
        for f in &failed {
            println!("soak: FAIL: {f}");
        }
        std::process::exit(1);
    }
}

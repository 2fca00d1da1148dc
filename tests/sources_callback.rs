//! Media read through a caller-supplied source (`hls_open_source`), through the C API, with a
//! counting `read_at` over a local file: every name is the same bytes as from the local path,
//! opens and segments cost the few reads the README promises, a failing or lying source gives a
//! clear status while the context keeps serving other media, and a new identity is a new
//! presentation.

mod common;

use std::collections::BTreeSet;
use std::ffi::{c_char, c_void, CString};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::capi::{self, get, names, take_error, Ctx, Media};
use hls::ffi::*;

impl Ctx {
    /// A context whose segment cache holds `cache` bytes, and its sources' block cache
    /// `source_cache` bytes (None: the default).
    fn with_source_cache(cache: u64, source_cache: Option<u64>) -> Ctx {
        Ctx::configured(|cfg| {
            // SAFETY: a live configuration handle.
            unsafe {
                assert_eq!(hls_config_set_cache_bytes(cfg, cache), HlsStatus::HLS_OK);
                if let Some(bytes) = source_cache {
                    assert_eq!(hls_config_set_source_cache_bytes(cfg, bytes), HlsStatus::HLS_OK);
                }
            }
        })
    }

    /// Opens `src` through `hls_open_source`; the source is shared with the caller, who keeps
    /// counting its reads.
    fn open_source(&self, src: &Arc<Counting>, identity: &str) -> Result<Media, (HlsStatus, String)> {
        let id = CString::new(identity).expect("identity");
        let hs = HlsSource {
            read_at: Some(read_at),
            release: Some(release),
            opaque: Arc::into_raw(src.clone()) as *mut c_void,
            size: src.size,
            identity: id.as_ptr(),
        };
        let mut m = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: valid pointers; the error is freed here; release drops the Arc once.
        unsafe {
            let st = hls_open_source(self.0, &hs, ptr::null(), &mut m, &mut err);
            if st == HlsStatus::HLS_OK {
                Ok(Media(m))
            } else {
                Err((st, take_error(err)))
            }
        }
    }
}

impl Media {
    /// `(reads, bytes)` of the source so far: the open's, and the segments'.
    fn source_reads(&self) -> ((u64, u64), (u64, u64)) {
        let s = &self.info()["source"];
        let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("info source.{k}: {s}"));
        ((n("open_reads"), n("open_bytes")), (n("segment_reads"), n("segment_bytes")))
    }
}

/// What the counting source does wrong, on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// Fails (-1 with a message) every read from then on.
    Fail,
    /// Claims to have read one byte more than asked.
    TooMany,
    /// Returns half of what was asked, far from the end.
    Short,
    /// Returns -7.
    Negative,
}

/// A file-backed source that counts its reads (and the largest one), and misbehaves on demand.
struct Counting {
    file: File,
    size: u64,
    reads: AtomicU64,
    bytes: AtomicU64,
    largest: AtomicU64,
    /// Reads left before `fault` starts (negative: never).
    fault_after: AtomicI64,
    fault: Mutex<Fault>,
    released: AtomicU64,
    /// Microseconds each read waits before reading (a store's round trip; 0: none).
    latency_us: AtomicU64,
    /// Reads under way now, and the most there were at once.
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
    /// Every read asked for: `(offset, length)`.
    asked: Mutex<Vec<(u64, u64)>>,
}

impl Counting {
    fn new(path: &Path) -> Arc<Counting> {
        let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let size = file.metadata().expect("metadata").len();
        Arc::new(Counting {
            file,
            size,
            reads: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            largest: AtomicU64::new(0),
            fault_after: AtomicI64::new(-1),
            fault: Mutex::new(Fault::None),
            released: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            most_in_flight: AtomicU64::new(0),
            asked: Mutex::new(Vec::new()),
        })
    }

    fn misbehave(&self, fault: Fault, after: i64) {
        *self.fault.lock().unwrap() = fault;
        self.fault_after.store(after, Ordering::SeqCst);
    }

    fn counts(&self) -> (u64, u64) {
        (self.reads.load(Ordering::SeqCst), self.bytes.load(Ordering::SeqCst))
    }

    /// Bytes asked for, and distinct bytes among them (what a store's access log shows).
    fn requested_and_distinct(&self) -> (u64, u64) {
        let mut asked = self.asked.lock().unwrap().clone();
        let requested = asked.iter().map(|r| r.1).sum();
        asked.sort_unstable();
        let (mut distinct, mut reach) = (0u64, 0u64);
        for (pos, len) in asked {
            let end = pos + len;
            if end > reach {
                distinct += end - pos.max(reach);
                reach = end;
            }
        }
        (requested, distinct)
    }

    fn read(&self, offset: u64, buf: &mut [u8], err: &mut [u8]) -> i64 {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let latency = self.latency_us.load(Ordering::SeqCst);
        if latency > 0 {
            std::thread::sleep(std::time::Duration::from_micros(latency));
        }
        let n = self.read_now(offset, buf, err);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        n
    }

    fn read_now(&self, offset: u64, buf: &mut [u8], err: &mut [u8]) -> i64 {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.asked.lock().unwrap().push((offset, buf.len() as u64));
        if std::env::var_os("SOURCES_LOG_READS").is_some() {
            eprintln!("read_at {offset} {}", buf.len());
        }
        self.largest.fetch_max(buf.len() as u64, Ordering::SeqCst);
        let left = self.fault_after.load(Ordering::SeqCst);
        let fault = if left == 0 { *self.fault.lock().unwrap() } else { Fault::None };
        if left > 0 {
            self.fault_after.fetch_sub(1, Ordering::SeqCst);
        }
        match fault {
            Fault::Fail => {
                let msg = b"store unreachable (test)\0";
                let n = msg.len().min(err.len());
                err[..n].copy_from_slice(&msg[..n]);
                if let Some(last) = err.last_mut() {
                    *last = 0;
                }
                return -1;
            }
            Fault::TooMany => return buf.len() as i64 + 1,
            Fault::Negative => return -7,
            Fault::Short if buf.len() > 1 && offset + (buf.len() as u64) < self.size => {
                return (buf.len() / 2) as i64;
            }
            _ => {}
        }
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) => {
                    let msg = format!("{e}\0");
                    let n = msg.len().min(err.len());
                    err[..n].copy_from_slice(&msg.as_bytes()[..n]);
                    return -1;
                }
            }
        }
        self.bytes.fetch_add(done as u64, Ordering::SeqCst);
        done as i64
    }
}

/// `HlsReadAtFn` over a `Counting`.
///
/// # Safety
/// As `HlsReadAtFn`: opaque is an `Arc<Counting>` from `Arc::into_raw`.
unsafe extern "C" fn read_at(
    opaque: *mut c_void,
    offset: u64,
    buf: *mut u8,
    len: usize,
    err: *mut c_char,
    err_cap: usize,
) -> i64 {
    // SAFETY: per the contract.
    let src = unsafe { &*(opaque as *const Counting) };
    // SAFETY: buf is writable for len bytes, err for err_cap bytes.
    let (buf, err) =
        unsafe { (std::slice::from_raw_parts_mut(buf, len), std::slice::from_raw_parts_mut(err as *mut u8, err_cap)) };
    src.read(offset, buf, err)
}

/// `HlsReleaseFn`: drops the Arc given to libhls.
///
/// # Safety
/// Called once per `hls_open_source` with the opaque given to it.
unsafe extern "C" fn release(opaque: *mut c_void) {
    // SAFETY: per the contract: the Arc from Arc::into_raw, dropped once.
    let src = unsafe { Arc::from_raw(opaque as *const Counting) };
    src.released.fetch_add(1, Ordering::SeqCst);
}

/// The test files the crawl tests use: every file of the media folder.
fn media_files() -> Vec<PathBuf> {
    capi::media_files(&["h264_aac.mp4", "h264_aac.mkv", "dts.mkv", "audio_only.mp3", "h264_aac.ts"])
}

fn media(name: &str) -> PathBuf {
    common::ensure_media(&[name]).expect("media");
    common::media_dir().join(name)
}

/// Crawls `path` from the local file and through a counting source in two contexts; returns
/// the number of names, or None when libhls refuses the file both ways alike.
fn same_bytes(path: &Path) -> Result<Option<usize>, String> {
    let local_ctx = Ctx::new(64 << 20);
    let src_ctx = Ctx::new(64 << 20);
    let src = Counting::new(path);
    let identity = format!("test://{}", path.display());
    let local = local_ctx.open(path);
    let remote = src_ctx.open_source(&src, &identity);
    let (local, remote) = match (local, remote) {
        (Ok(l), Ok(r)) => (l, r),
        (Err((a, _)), Err((b, _))) if a == b => return Ok(None),
        (l, r) => return Err(format!("{}: local open {:?}, source open {:?}", path.display(), l.err(), r.err())),
    };
    let list = names(&local);
    for name in &list {
        let a = get(&local, name);
        let b = get(&remote, name);
        match (&a, &b) {
            (Ok(x), Ok(y)) if x == y => {}
            (Err((s1, _)), Err((s2, _))) if s1 == s2 => {}
            _ => {
                return Err(format!(
                    "{} {name}: local {:?}, source {:?}",
                    path.display(),
                    a.map(|v| v.len()),
                    b.map(|v| v.len())
                ))
            }
        }
    }
    drop(remote);
    drop(src_ctx);
    if src.released.load(Ordering::SeqCst) != 1 {
        return Err(format!("{}: release called {} times", path.display(), src.released.load(Ordering::SeqCst)));
    }
    Ok(Some(list.len()))
}

#[test]
fn every_name_through_a_source_is_the_same_bytes_as_from_the_file() {
    let files = media_files();
    let results = common::par_map(&files, common::workers(), |p| (p.clone(), same_bytes(p)));
    let (mut crawled, mut names, mut failures) = (0, 0, Vec::new());
    for (p, r) in results {
        match r {
            Ok(Some(n)) => {
                crawled += 1;
                names += n;
            }
            Ok(None) => println!("{}: refused both ways", p.display()),
            Err(e) => failures.push(e),
        }
    }
    println!("{crawled} files, {names} names the same through a source");
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
    assert!(crawled > 30 && names > 600, "crawled too little: {crawled} files, {names} names");
}

/// The media segments of every fMP4 track: `t<n>_<k>.m4s` names.
fn segment_names(m: &Media) -> Vec<String> {
    names(m).into_iter().filter(|n| n.ends_with(".m4s") && n.starts_with('t') && !n.contains("_i")).collect()
}

#[test]
fn a_two_hour_mp4_opens_in_at_most_three_reads_and_a_segment_of_every_track_is_one_read() {
    // The 2-hour film when generated (`scripts/gen-media.sh --long`), else the standard file:
    // the rules are the same.
    let (path, long) = common::long_media_or("long_2h.mp4", "h264_aac.mp4");
    let ctx = Ctx::new(0);
    let src = Counting::new(&path);
    let m = ctx.open_source(&src, &format!("test://{}#1", path.display())).expect("open");
    let (open, _) = m.source_reads();
    println!("{} (moov first, {} bytes): open {} reads, {} bytes", path.display(), src.size, open.0, open.1);
    assert!(open.0 >= 1 && open.0 <= 3, "open took {} reads", open.0);
    assert_eq!(open.0, src.counts().0, "info counts the reads the source saw");
    // Copied segments: the samples of segment k of every track are read together (one read
    // for all of them, the tracks being interleaved), at most 1.1 times the segments' bytes.
    let segs = segment_names(&m);
    assert!(segs.len() > if long { 2000 } else { 2 }, "{} segments", segs.len());
    let tracks: BTreeSet<String> = segs.iter().map(|n| n.split('_').next().unwrap_or("").to_string()).collect();
    assert!(tracks.len() >= 2, "{tracks:?}");
    let count = segs.iter().filter(|n| n.starts_with("t0_")).count();
    let (mut worst_ratio, mut worst_reads, mut total) = (0f64, 0u64, 0usize);
    // (On the standard file the open's first read already holds segment 0: no read of its own.)
    for k in (0..count).step_by(if long { 37 } else { 1 }) {
        let before = src.counts();
        let mut len = 0;
        for t in &tracks {
            len += get(&m, &format!("{t}_{k}.m4s")).unwrap_or_else(|e| panic!("{t}_{k}: {e:?}")).len();
        }
        let after = src.counts();
        let (reads, read) = (after.0 - before.0, after.1 - before.1);
        let ratio = read as f64 / len as f64;
        if std::env::var_os("SOURCES_LOG_READS").is_some() {
            eprintln!("segment {k}: {reads} reads, {read} bytes for {len}");
        }
        worst_ratio = worst_ratio.max(ratio);
        worst_reads = worst_reads.max(reads);
        total += 1;
        assert!(
            (reads >= 1 || !long) && reads <= tracks.len() as u64,
            "segment {k}: {reads} reads for {} tracks",
            tracks.len()
        );
        assert!(ratio <= 1.1, "segment {k}: read {read} bytes for {len} bytes of segments");
    }
    println!(
        "{total} segments of {} tracks: at most {worst_reads} read(s) per segment of all tracks, at most {worst_ratio:.3}x their size",
        tracks.len()
    );
    assert_eq!(worst_reads, 1, "interleaved tracks: one read for a segment of every track");
    let (_, seg) = m.source_reads();
    println!("info source: segments' (reads, bytes) {seg:?}");
    assert_eq!(seg.0, src.counts().0 - open.0, "info counts the segments' reads");
    let stats = ctx.stats();
    assert_eq!(stats["source_reads"].as_u64(), Some(src.counts().0), "{stats}");
    assert_eq!(stats["source_bytes"].as_u64(), Some(src.counts().1), "{stats}");
}

/// `long_2h.mp4` (else the standard `h264_aac.mp4`) rewritten with its `moov` at the end
/// (FFmpeg's default layout), made once.
fn moov_at_end() -> PathBuf {
    let (src, long) = common::long_media_or("long_2h.mp4", "h264_aac.mp4");
    let dir = common::out_root().join("sources");
    std::fs::create_dir_all(&dir).expect("out dir");
    let stem = if long { "long_2h_moov_end" } else { "h264_aac_moov_end" };
    let out = dir.join(format!("{stem}.mp4"));
    if !out.exists() {
        let tmp = dir.join(format!("{stem}.{}.mp4", std::process::id()));
        common::run_ok(
            std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-i"])
                .arg(&src)
                .args(["-map", "0", "-c", "copy"])
                .arg(&tmp),
        )
        .expect("ffmpeg remux");
        std::fs::rename(&tmp, &out).expect("rename");
    }
    out
}

#[test]
fn a_two_hour_mp4_with_its_moov_at_the_end_opens_in_at_most_three_reads() {
    let path = moov_at_end();
    let ctx = Ctx::new(0);
    let src = Counting::new(&path);
    let m = ctx.open_source(&src, &format!("test://{}", path.display())).expect("open");
    let (open, _) = m.source_reads();
    println!("moov at the end ({} bytes): open {} reads, {} bytes", src.size, open.0, open.1);
    assert!(open.0 <= 3, "open took {} reads", open.0);
    let last = segment_names(&m).iter().filter(|n| n.starts_with("t0_")).count();
    let seg = get(&m, &format!("t0_{}.m4s", (last / 2).min(100))).expect("segment");
    assert!(seg.len() > 1000);
}

#[test]
fn a_two_hour_matroska_opens_from_its_cues_in_a_few_reads() {
    // The 2-hour films when generated (`scripts/gen-media.sh --long`), else the standard file of
    // FFmpeg's muxer: the rules are the same, but for the share of the file an open reads, which
    // only a long file makes small. (The standard mkvmerge file has subtitles, read block by block.)
    for (long_name, short_name) in [("long_2h.mkv", Some("h264_aac.mkv")), ("long_2h_mkvmerge.mkv", None)] {
        let (path, long) = match short_name {
            Some(short) => common::long_media_or(long_name, short),
            None if common::media_dir().join(long_name).is_file() => (common::media_dir().join(long_name), true),
            None => continue,
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let ctx = Ctx::new(0);
        let src = Counting::new(&path);
        // Each read waits 1 ms, as a store's round trip would: the boundary probes overlap.
        src.latency_us.store(1000, Ordering::SeqCst);
        let t = std::time::Instant::now();
        let m = ctx.open_source(&src, &format!("test://{name}")).expect("open");
        let open_time = t.elapsed();
        src.latency_us.store(0, Ordering::SeqCst);
        let (open, _) = m.source_reads();
        let info = m.info();
        println!(
            "{name} ({} bytes, indexed from {}): open {} reads, {} bytes, largest read {}",
            src.size,
            info["indexed_from"],
            open.0,
            open.1,
            src.largest.load(Ordering::SeqCst)
        );
        assert_eq!(info["indexed_from"], "matroska cues");
        // The probes of the segment boundaries are independent reads: several are under way at
        // once (their round trips overlap), and all of them are counted as the open's.
        let most = src.most_in_flight.load(Ordering::SeqCst);
        println!("{name}: at most {most} reads under way at once; open with 1 ms per read: {open_time:?}");
        if long {
            assert!(most > 1, "{name}: the boundary probes ran one at a time");
        }
        assert_eq!(open.0, src.counts().0, "{name}: reads made by the open but not counted as its own");
        // README: a Matroska file opens from its Cues in one read per segment boundary (the
        // blocks after its keyframe, in one window sized by the first keyframes; for mkvmerge's
        // files, whose boundary audio frame is stored before the keyframe, one window from the
        // Cue before that covers both), plus a few for its header, Cues and FFmpeg's probe.
        // (No boundary of these files is planned without a probe: long_2h.mp4's AAC grid starts
        // again every minute, and mkvmerge times laced frames by shares of the lace; index::mkv.)
        let segments = info["segments"].as_u64().expect("segments");
        assert!(open.0 <= segments + 16, "{name}: open took {} reads for {segments} segments", open.0);
        if long {
            assert!(open.1 < src.size * 6 / 10, "{name}: open read {} of {} bytes", open.1, src.size);
        }
        // A segment walked block by block from its cluster: its clusters in one read, shared by
        // both tracks' walks.
        let mid = segments / 2;
        let pair = src.counts();
        for t in ["t0", "t1"] {
            let name = format!("{t}_{mid}.m4s");
            let before = src.counts();
            let bytes = get(&m, &name).expect("segment");
            let after = src.counts();
            let (reads, read) = (after.0 - before.0, after.1 - before.1);
            println!("{}: {name}: {reads} reads, {read} bytes for {} bytes", path.display(), bytes.len());
            assert!(reads <= 2, "{name}: {reads} reads");
        }
        let reads = src.counts().0 - pair.0;
        println!("{name}: segment {mid} of both tracks: {reads} read(s)");
        // One when both tracks' samples start in the same cluster (FFmpeg's muxer); mkvmerge's
        // audio starts a cluster earlier: its own window, and a margin read past it.
        assert!(reads <= 3, "{name}: segment {mid} of both tracks took {reads} reads");
    }
}

/// `path` (named `name`) opened through a counting source: the source, the media, the open's
/// (reads, bytes), its info and its segment count.
fn open_counting(ctx: &Ctx, path: &Path, name: &str) -> (Arc<Counting>, Media, (u64, u64), serde_json::Value, u64) {
    let src = Counting::new(path);
    let m = ctx.open_source(&src, &format!("test://{name}")).expect("open");
    let (open, _) = m.source_reads();
    let info = m.info();
    let segments = info["segments"].as_u64().expect("segments");
    (src, m, open, info, segments)
}

#[test]
fn a_matroska_film_whose_audio_keeps_one_grid_opens_in_a_few_reads_however_long() {
    // FFmpeg's muxer, AAC on one frame grid from the first GOPs to the last 20 s: every
    // segment boundary but the first keyframe's and one probe that vouches for the plan is
    // planned from the Cues, the head and the tail, without a read of its own (index::mkv).
    // The 2-hour film when generated (`scripts/gen-media.sh --long`: 1200 segments), and the
    // standard 4-minute one: the same few reads.
    for name in ["long_2h_film.mkv", "looped_4min.mkv"] {
        let path = common::media_dir().join(name);
        if !path.is_file() {
            continue;
        }
        let ctx = Ctx::new(0);
        let (src, m, open, info, segments) = open_counting(&ctx, &path, name);
        println!("{name} ({} bytes, {segments} segments): open {} reads, {} bytes", src.size, open.0, open.1);
        assert_eq!(info["indexed_from"], "matroska cues");
        assert_eq!(open.0, src.counts().0, "{name}: reads made by the open but not counted as its own");
        // The header, the Cues, FFmpeg's probe, head and tail, the first keyframe, the pilot and
        // three check probes: not one per boundary.
        assert!(segments > 30, "{name}: {segments} segments");
        assert!(open.0 <= 20, "{name}: open took {} reads for {segments} segments", open.0);
        // Its segments are the local file's (the plan's audio frames are where it says).
        let local_ctx = Ctx::new(0);
        let local = local_ctx.open(&path).expect("local open");
        let list = names(&local);
        for n in &list {
            assert_eq!(get(&local, n).map_err(|e| e.0), get(&m, n).map_err(|e| e.0), "{name}: {n}");
        }
    }
}

#[test]
fn a_matroska_film_with_subtitles_opens_without_reading_them_and_reads_each_track_once() {
    // The open reads the header, the Cues and the blocks around the segment boundaries, not
    // the subtitle blocks (one read each, through a store: a round trip each); a subtitle
    // track's first WebVTT request reads its blocks, once, and gives the local file's cues.
    // The 2-hour film with two subtitle tracks when generated (`scripts/gen-media.sh --long`:
    // 3,838 cues), and the standard files (mkvmerge's and FFmpeg's muxers).
    for name in ["long_2h_subs.mkv", "mkvmerge_subs.mkv", "multi_audio.mkv"] {
        let path = common::media_dir().join(name);
        if !path.is_file() {
            continue;
        }
        let local_ctx = Ctx::new(0);
        let local = local_ctx.open(&path).expect("local open");
        let ctx = Ctx::new(0);
        let (src, m, open, info, segments) = open_counting(&ctx, &path, name);
        assert_eq!(info["indexed_from"], "matroska cues", "{name}");
        let tracks: BTreeSet<String> = names(&local)
            .into_iter()
            .filter(|n| n.ends_with(".vtt"))
            .filter_map(|n| n.split('_').next().map(|t| t.trim_end_matches(".vtt").to_string()))
            .collect();
        assert!(tracks.len() >= 2, "{name}: subtitle tracks {tracks:?}");
        println!("{name} ({segments} segments, subtitle tracks {tracks:?}): open {} reads", open.0);
        assert!(open.0 <= segments + 16, "{name}: open took {} reads for {segments} segments", open.0);
        for t in &tracks {
            let whole = format!("{t}.vtt");
            let before = src.counts().0;
            let vtt = get(&m, &whole).expect("whole-track WebVTT");
            let reads = src.counts().0 - before;
            assert_eq!(Ok(vtt), get(&local, &whole).map_err(|e| e.0), "{name}: {whole}");
            // Every segment of the track now comes from its cues: no read.
            let before = src.counts().0;
            for n in names(&local).iter().filter(|n| n.starts_with(&format!("{t}_")) && n.ends_with(".vtt")) {
                assert_eq!(get(&m, n).map_err(|e| e.0), get(&local, n).map_err(|e| e.0), "{name}: {n}");
            }
            println!("{name} {t}: cues in {reads} reads, then every segment in {}", src.counts().0 - before);
            // (A short file's blocks may all be in the source cache after the open.)
            if name.starts_with("long_") {
                assert!(reads > 0, "{name} {t}: cues read by the open");
            }
            assert_eq!(src.counts().0, before, "{name} {t}: its WebVTT segments read the source again");
        }
    }
}

/// Crawls every name of `path` through a counting source on four threads at once (names in
/// order: every segment of a track, then the next track's, as a crawler or the players of a
/// CDN's first viewers ask), checking each against the local file; returns the source.
fn crawl_four_at_once(path: &Path, source_cache: Option<u64>) -> Arc<Counting> {
    let local_ctx = Ctx::new(0);
    let local = local_ctx.open(path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let ctx = Ctx::with_source_cache(64 << 20, source_cache);
    let src = Counting::new(path);
    let m = ctx.open_source(&src, &format!("test://{}#crawl", path.display())).expect("open");
    let list = names(&local);
    let bad = common::par_map(&list, 4, |name| {
        let (a, b) = (get(&local, name), get(&m, name));
        (a.as_ref().map_err(|e| e.0) != b.as_ref().map_err(|e| e.0)).then(|| name.clone())
    });
    let bad: Vec<String> = bad.into_iter().flatten().collect();
    assert!(bad.is_empty(), "{}: through a source, not the same as from the file: {bad:?}", path.display());
    let stats = ctx.stats();
    assert_eq!(stats["source_reads"].as_u64(), Some(src.counts().0), "{stats}");
    src
}

#[test]
fn a_crawl_through_a_source_fetches_each_byte_of_the_object_about_once() {
    // The files test-remote.sh crawls: copied MP4 and Matroska segments, and the paths that
    // read through FFmpeg's demuxer (MPEG-TS, MP3, subtitles, transcoded DTS), each of which
    // seeks back a little and reads forward for every segment.
    let files = [
        "h264_aac.mp4",
        "h264_aac.mkv",
        "h264_aac.ts",
        "audio_only.mp3",
        "hevc_aac.mp4",
        "subs.mp4",
        "multi_audio.mkv",
        "dts.mkv",
    ];
    let mut worst = 0f64;
    for name in files {
        let path = media(name);
        let size = std::fs::metadata(&path).expect("size").len();
        let without = crawl_four_at_once(&path, Some(0)).requested_and_distinct();
        let src = crawl_four_at_once(&path, None);
        let (requested, distinct) = src.requested_and_distinct();
        let ratio = requested as f64 / distinct as f64;
        println!(
            "{name:16} {size:9} bytes: {:4} reads, {requested:9} bytes asked, {distinct:9} distinct: {ratio:.3}x \
             ({:.2}x the file); without the block cache {:.2}x ({:.2}x the file)",
            src.counts().0,
            requested as f64 / size as f64,
            without.0 as f64 / without.1 as f64,
            without.0 as f64 / size as f64,
        );
        worst = worst.max(ratio);
        // About once: what a read asks for is only what is missing, so the bytes asked twice
        // are the stretches two threads asked for at once in the same 64 KiB block.
        assert!(ratio <= 1.1, "{name}: {requested} bytes asked for {distinct} distinct ({ratio:.2}x)");
        assert!(requested <= size * 11 / 10, "{name}: {requested} bytes asked of a {size}-byte object");
    }
    println!("worst: {worst:.3}x");
}

#[test]
fn a_store_that_fails_mid_crawl_gives_io_errors_and_other_media_keep_playing() {
    let ctx = Ctx::new(0);
    let bad = Counting::new(&media("h264_aac.mp4"));
    let good = Counting::new(&media("h264_aac.mkv"));
    let mb = ctx.open_source(&bad, "test://bad").expect("open bad");
    let mg = ctx.open_source(&good, "test://good").expect("open good");
    assert!(get(&mb, "t0_0.m4s").is_ok());
    bad.misbehave(Fault::Fail, 0);
    let (st, msg) = get(&mb, "t0_1.m4s").expect_err("a failing store");
    println!("failing store: {st:?}: {msg}");
    assert_eq!(st, HlsStatus::HLS_ERR_IO);
    assert!(msg.contains("store unreachable (test)"), "{msg}");
    // Nothing retried: one failed read, one error.
    let reads = bad.counts().0;
    let _ = get(&mb, "t1_1.m4s").expect_err("still failing");
    assert!(bad.counts().0 - reads <= 2, "retried: {} reads", bad.counts().0 - reads);
    for name in segment_names(&mg).iter().take(6) {
        get(&mg, name).unwrap_or_else(|e| panic!("other media {name}: {e:?}"));
    }
    // The store comes back: the same handle serves again (failures are not cached).
    bad.misbehave(Fault::None, -1);
    let local = Ctx::new(0);
    let lm = local.open(&media("h264_aac.mp4")).expect("local");
    assert_eq!(get(&mb, "t0_1.m4s").expect("recovered"), get(&lm, "t0_1.m4s").expect("local"));
    // A store that fails at open: an I/O error, and the source released.
    let dead = Counting::new(&media("h264_aac.ts"));
    dead.misbehave(Fault::Fail, 0);
    let (st, msg) = ctx.open_source(&dead, "test://dead").err().expect("open fails");
    assert_eq!(st, HlsStatus::HLS_ERR_IO, "{msg}");
    assert!(msg.contains("store unreachable (test)"), "{msg}");
    assert_eq!(dead.released.load(Ordering::SeqCst), 1);
}

#[test]
fn a_source_that_lies_about_its_reads_is_refused_not_trusted() {
    for fault in [Fault::TooMany, Fault::Short, Fault::Negative] {
        let ctx = Ctx::new(0);
        let src = Counting::new(&media("h264_aac.mp4"));
        let m = ctx.open_source(&src, "test://liar").expect("open");
        src.misbehave(fault, 0);
        let (st, msg) = get(&m, "t0_2.m4s").expect_err("garbage refused");
        println!("{fault:?}: {st:?}: {msg}");
        assert_eq!(st, HlsStatus::HLS_ERR_IO, "{fault:?}: {msg}");
        assert!(msg.contains("refused"), "{fault:?}: {msg}");
        // At open too.
        let src2 = Counting::new(&media("h264_aac.mkv"));
        src2.misbehave(fault, 0);
        let (st, msg) = ctx.open_source(&src2, "test://liar2").err().expect("open refused");
        assert_eq!(st, HlsStatus::HLS_ERR_IO, "{fault:?} at open: {msg}");
    }
}

#[test]
fn a_replaced_object_is_a_new_presentation_and_an_open_one_is_shared() {
    let ctx = Ctx::new(64 << 20);
    let v1 = Counting::new(&media("h264_aac.mp4"));
    let v2 = Counting::new(&media("hevc_aac.mp4"));
    let a = ctx.open_source(&v1, "http://store/x.mp4 \"etag-1\"").expect("v1");
    let master1 = get(&a, "master.m3u8").expect("master v1");
    let seg1 = get(&a, "t0_1.m4s").expect("seg v1");
    // The same identity again: shared, and the second source released at once.
    let again = Counting::new(&media("h264_aac.mp4"));
    let a2 = ctx.open_source(&again, "http://store/x.mp4 \"etag-1\"").expect("v1 again");
    assert_eq!(again.released.load(Ordering::SeqCst), 1, "the duplicate source is released at once");
    assert_eq!(again.counts().0, 0, "the duplicate source is never read");
    assert_eq!(get(&a2, "t0_1.m4s").expect("shared"), seg1);
    // A new ETag: a new presentation, never the old bytes.
    let b = ctx.open_source(&v2, "http://store/x.mp4 \"etag-2\"").expect("v2");
    assert_ne!(get(&b, "master.m3u8").expect("master v2"), master1);
    let seg2 = get(&b, "t0_1.m4s").expect("seg v2");
    assert_ne!(seg2, seg1);
    let local = Ctx::new(0);
    assert_eq!(seg2, get(&local.open(&media("hevc_aac.mp4")).expect("local"), "t0_1.m4s").expect("local"));
    drop((a, a2, b));
    drop(ctx);
    for s in [&v1, &v2, &again] {
        assert_eq!(s.released.load(Ordering::SeqCst), 1);
    }
}

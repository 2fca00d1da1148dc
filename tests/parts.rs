//! Segments as parts (`hls_get_parts`): bytes made in memory and ranges of the source file that
//! a server sends with `sendfile`. Concatenated, the parts must be exactly what `hls_get`
//! returns, for every name of every test file; a file changed on disk after indexing must never
//! have its ranges handed out.

mod common;

use std::ffi::{CStr, CString};
use std::fs::File;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::ptr;

use common::capi::{self, get, names, take_error, Ctx, Media};
use hls::ffi::*;

/// What `hls_get_parts` said of a name: its bytes (ranges read from the descriptor), how many
/// parts of each kind, the descriptor, the identity and the content type.
struct Got {
    bytes: Vec<u8>,
    file_parts: usize,
    byte_parts: usize,
    fd: i32,
    file: HlsFileIdentity,
    content_type: String,
}

/// Reads what `p` describes: bytes parts copied, file parts read with `pread` from its `fd`
/// (which stays libhls's: never closed here).
///
/// # Safety
/// `p` was filled by a successful `hls_get_parts` and not freed.
unsafe fn read_parts(p: &HlsParts) -> Result<Got, String> {
    // SAFETY: per the contract, `parts` holds `count` parts and bytes parts point to `len` bytes.
    let parts = unsafe { std::slice::from_raw_parts(p.parts, p.count) };
    // The descriptor is libhls's: borrowed as a File that is never dropped.
    // SAFETY: fd is open while `p` is not freed; ManuallyDrop keeps it from being closed.
    let file = (p.fd >= 0).then(|| ManuallyDrop::new(unsafe { File::from_raw_fd(p.fd) }));
    let mut got = Got {
        bytes: Vec::with_capacity(p.len as usize),
        file_parts: 0,
        byte_parts: 0,
        fd: p.fd,
        file: p.file,
        // SAFETY: a static NUL-terminated string.
        content_type: unsafe { CStr::from_ptr(p.content_type) }.to_string_lossy().into_owned(),
    };
    for part in parts {
        match part.kind {
            HlsPartKind::HLS_PART_BYTES => {
                got.byte_parts += 1;
                // SAFETY: per the contract.
                got.bytes.extend_from_slice(unsafe { std::slice::from_raw_parts(part.data, part.len as usize) });
            }
            HlsPartKind::HLS_PART_FILE => {
                got.file_parts += 1;
                if part.len == 0 || !part.data.is_null() {
                    return Err(format!("a file part of {} bytes with data {:?}", part.len, part.data));
                }
                let f = file.as_ref().ok_or("a file part without a descriptor")?;
                let mut buf = vec![0u8; part.len as usize];
                f.read_exact_at(&mut buf, part.offset).map_err(|e| format!("pread {}: {e}", part.offset))?;
                got.bytes.extend_from_slice(&buf);
            }
        }
    }
    if got.bytes.len() as u64 != p.len {
        return Err(format!("parts add up to {} bytes, len says {}", got.bytes.len(), p.len));
    }
    Ok(got)
}

fn get_parts(m: &Media, name: &str) -> Result<Got, (HlsStatus, String)> {
    let n = CString::new(name).expect("name");
    let mut p = HlsParts::default();
    let mut err = ptr::null_mut();
    // SAFETY: valid pointers; parts and error freed here.
    unsafe {
        let st = hls_get_parts_ex(m.0, n.as_ptr(), &mut p, &mut err);
        if st != HlsStatus::HLS_OK {
            return Err((st, take_error(err)));
        }
        let got = read_parts(&p).map_err(|e| (HlsStatus::HLS_ERR_INTERNAL, e));
        hls_free_parts(&mut p);
        assert!(p.parts.is_null() && p.fd == -1 && p._private.is_null(), "hls_free_parts zeroes the struct");
        got
    }
}

/// The test files, all of them (those libhls refuses are skipped when they fail to open).
fn media_files() -> Vec<PathBuf> {
    capi::media_files(&["h264_aac.mp4", "h264_aac.mkv", "dts.mkv"])
}

#[derive(Default, Debug)]
struct Tally {
    files: usize,
    names: usize,
    with_ranges: usize,
    file_parts: usize,
    byte_parts: usize,
    range_bytes: u64,
    /// Over the segments of the files laid out in chunks (the least file parts per sample).
    samples_in_ranges: usize,
    runs_merged: usize,
}

/// The sample count of a media segment's `trun`.
fn samples(seg: &[u8]) -> usize {
    let at = seg.windows(4).position(|w| w == b"trun").expect("trun") + 8;
    u32::from_be_bytes(seg[at..at + 4].try_into().unwrap()) as usize
}

/// Every name of a file and what its parts were.
type Crawled = Vec<(String, Got)>;

/// Checks every name of one file: parts from a cold context (generated as parts), parts from a
/// warm one (after hls_get cached them) and hls_get's bytes are the same bytes.
fn check_file(path: &Path) -> Result<Option<(Tally, Crawled)>, String> {
    let warm = Ctx::new(512 << 20);
    let cold = Ctx::new(0);
    let Ok(mw) = warm.open(path) else { return Ok(None) };
    let mc = cold.open(path).map_err(|e| format!("second open: {e:?}"))?;
    let md = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let mut tally = Tally { files: 1, ..Tally::default() };
    let mut kept = Vec::new();
    for name in names(&mw) {
        let what = format!("{} {name}", path.display());
        let bytes = get(&mw, &name).map_err(|e| format!("{what}: hls_get: {e:?}"))?;
        let hit = get_parts(&mw, &name).map_err(|e| format!("{what}: parts (cached): {e:?}"))?;
        let miss = get_parts(&mc, &name).map_err(|e| format!("{what}: parts (generated): {e:?}"))?;
        for (how, got) in [("cached", &hit), ("generated", &miss)] {
            if got.bytes != bytes {
                let at = got.bytes.iter().zip(&bytes).position(|(a, b)| a != b);
                return Err(format!(
                    "{what}: {how} parts give {} bytes, hls_get {} (first difference at {at:?})",
                    got.bytes.len(),
                    bytes.len()
                ));
            }
            if (got.file_parts > 0) != (got.fd >= 0) {
                return Err(format!("{what}: {how}: {} file parts but fd {}", got.file_parts, got.fd));
            }
            let id = got.file;
            if (id.dev, id.ino, id.size, id.mtime_sec, id.mtime_nsec)
                != (md.dev(), md.ino(), md.size(), md.mtime(), md.mtime_nsec())
            {
                return Err(format!("{what}: {how}: identity {id:?} is not the file's"));
            }
        }
        if hit.file_parts != miss.file_parts || hit.byte_parts != miss.byte_parts {
            return Err(format!("{what}: cached and generated parts differ in shape"));
        }
        tally.names += 1;
        tally.file_parts += hit.file_parts;
        tally.byte_parts += hit.byte_parts;
        if hit.file_parts > 0 {
            tally.with_ranges += 1;
            tally.range_bytes += hit.bytes.len() as u64;
            tally.samples_in_ranges += samples(&hit.bytes);
            tally.runs_merged += hit.file_parts;
        }
        kept.push((name, hit));
    }
    Ok(Some((tally, kept)))
}

#[test]
fn every_name_of_every_file_is_the_same_bytes_as_parts() {
    let files = media_files();
    let results = common::par_map(&files, common::workers(), |p| (p.clone(), check_file(p)));
    let mut total = Tally::default();
    let mut failures = Vec::new();
    let mut by_file = std::collections::HashMap::new();
    for (path, r) in results {
        match r {
            Ok(Some((t, kept))) => {
                total.files += t.files;
                total.names += t.names;
                total.with_ranges += t.with_ranges;
                total.file_parts += t.file_parts;
                total.byte_parts += t.byte_parts;
                total.range_bytes += t.range_bytes;
                println!(
                    "{}: {} names, {} with ranges: {} file parts for {} samples",
                    path.display(),
                    t.names,
                    t.with_ranges,
                    t.runs_merged,
                    t.samples_in_ranges
                );
                // The file laid out in the longest runs speaks for merging.
                if t.samples_in_ranges > 0
                    && (total.samples_in_ranges == 0
                        || t.runs_merged * total.samples_in_ranges < total.runs_merged * t.samples_in_ranges)
                {
                    total.samples_in_ranges = t.samples_in_ranges;
                    total.runs_merged = t.runs_merged;
                }
                by_file.insert(path.file_name().unwrap().to_string_lossy().into_owned(), kept);
            }
            Ok(None) => {}
            Err(e) => failures.push(e),
        }
    }
    println!("{total:?}");
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
    // The standard test media alone (no --long files) is 54 files and over 900 names.
    assert!(total.files > 30 && total.names > 600, "crawled too little: {total:?}");
    // Not vacuous: copied segments of MP4 and Matroska files are ranges of the file, merged
    // (fewer file parts than samples: a 6 s segment has far more samples than parts).
    let seg = |file: &str, name: &str| {
        let kept = by_file.get(file).unwrap_or_else(|| panic!("{file} was not crawled"));
        &kept.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{file} has no {name}")).1
    };
    for (file, name) in [("h264_aac.mp4", "t0_1.m4s"), ("h264_aac.mp4", "t1_1.m4s"), ("h264_aac.mkv", "t0_1.m4s")] {
        let g = seg(file, name);
        assert!(g.file_parts >= 1 && g.fd >= 0, "{file} {name}: no file range ({} parts)", g.file_parts);
        assert!(g.file_parts <= samples(&g.bytes), "{file} {name}: more file parts than samples");
        assert!(g.content_type.ends_with("/mp4"), "{file} {name}: {}", g.content_type);
    }
    // Rewritten or made in memory: one bytes part, no descriptor.
    for (file, name) in [("h264_aac.mp4", "master.m3u8"), ("h264_aac.mp4", "t0_init.mp4"), ("dts.mkv", "t1_0.m4s")] {
        let g = seg(file, name);
        assert!(g.file_parts == 0 && g.byte_parts == 1 && g.fd == -1, "{file} {name}: {} file parts", g.file_parts);
    }
    // The standard test media alone sends about 56 MiB as file ranges.
    assert!(total.range_bytes > 32 << 20, "{total:?}");
    // Adjacent ranges are merged: files whose samples are stored in runs (chunks of several
    // samples) have far fewer file parts than samples (FFmpeg's muxers interleave sample by
    // sample, so most test files have about one part per sample).
    assert!(
        total.runs_merged * 2 < total.samples_in_ranges,
        "{} file parts for {} samples: adjacent ranges are not merged",
        total.runs_merged,
        total.samples_in_ranges
    );
}

fn work_copy(name: &str, from: &str) -> PathBuf {
    capi::work_copy("parts", name, from)
}

#[test]
fn a_file_truncated_after_indexing_never_has_its_ranges_handed_out() {
    let path = work_copy("truncated_later.mp4", "h264_aac.mp4");
    let ctx = Ctx::new(64 << 20);
    let m = ctx.open(&path).expect("open");
    let before = get_parts(&m, "t0_1.m4s").expect("parts before the change");
    assert!(before.file_parts > 0);
    let size = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(size / 2).unwrap();
    // Cached (headers and ranges) or not: FILE_CHANGED, through parts and through bytes.
    for name in ["t0_1.m4s", "t0_2.m4s", "t1_3.m4s"] {
        match get_parts(&m, name) {
            Err((HlsStatus::HLS_ERR_FILE_CHANGED, msg)) => assert!(msg.contains("changed"), "{msg}"),
            other => panic!("{name}: parts of a truncated file: {:?}", other.map(|g| g.bytes.len())),
        }
        match get(&m, name) {
            Err((HlsStatus::HLS_ERR_FILE_CHANGED, _)) => {}
            other => panic!("{name}: bytes of a truncated file: {:?}", other.map(|b| b.len())),
        }
    }
    // Playlists are made from the index alone: still served.
    assert!(get_parts(&m, "master.m3u8").is_ok());
}

#[test]
fn a_file_rewritten_in_place_or_replaced_is_never_served_as_stale_ranges() {
    let path = work_copy("rewritten.mp4", "h264_aac.mp4");
    let other = std::fs::read(common::media_dir().join("h264_2997.mp4")).expect("read");
    let ctx = Ctx::new(64 << 20);
    let m = ctx.open(&path).expect("open");
    let seg1 = get_parts(&m, "t0_1.m4s").expect("parts").bytes;
    // In place (same inode, new size and mtime): the descriptor reads the new bytes, so the
    // old index's ranges must not be handed out.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, &other).expect("rewrite");
    match get_parts(&m, "t0_1.m4s") {
        Err((HlsStatus::HLS_ERR_FILE_CHANGED, _)) => {}
        other => panic!("parts after an in-place rewrite: {:?}", other.map(|g| g.bytes.len())),
    }
    drop(m);
    // Replaced by a rename: a new open indexes the new file; an old handle's descriptor still
    // reads the old file, so what it hands out is the old bytes or FILE_CHANGED, never a mix.
    let path = work_copy("replaced.mp4", "h264_aac.mp4");
    let m = ctx.open(&path).expect("open");
    assert_eq!(get_parts(&m, "t0_1.m4s").expect("parts").bytes, seg1);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &other).expect("write");
    std::fs::rename(&tmp, &path).expect("rename");
    match get_parts(&m, "t0_1.m4s") {
        Ok(g) => assert_eq!(g.bytes, seg1, "the old handle's cached ranges read the old file"),
        Err((st, _)) => assert_eq!(st, HlsStatus::HLS_ERR_FILE_CHANGED),
    }
    match get_parts(&m, "t0_2.m4s") {
        Err((HlsStatus::HLS_ERR_FILE_CHANGED, _)) => {}
        other => panic!("an uncached segment of a replaced file: {:?}", other.map(|g| g.bytes.len())),
    }
    let new = ctx.open(&path).expect("reopen");
    let fresh = get_parts(&new, "t0_1.m4s").expect("parts of the new file");
    assert_ne!(fresh.bytes, seg1);
    assert_eq!(fresh.file.size, other.len() as u64);
}

#[test]
fn the_descriptor_outlives_close_and_context_until_the_parts_are_freed() {
    common::ensure_media(&["h264_aac.mp4"]).expect("media");
    let ctx = Ctx::new(0);
    let m = ctx.open(&common::media_dir().join("h264_aac.mp4")).expect("open");
    let want = get(&m, "t0_2.m4s").expect("bytes");
    let name = CString::new("t0_2.m4s").unwrap();
    let mut p = HlsParts::default();
    // SAFETY: valid pointers; the parts are freed below.
    unsafe {
        assert_eq!(hls_segment_parts(m.0, name.as_ptr(), &mut p), HlsStatus::HLS_OK);
        drop(m);
        drop(ctx);
        let got = read_parts(&p).expect("read after close");
        assert_eq!(got.bytes, want);
        hls_free_parts(&mut p);
        hls_free_parts(&mut p);
        hls_free_parts(ptr::null_mut());
        // A playlist is not a segment; a NULL out is refused.
        let ctx = Ctx::new(0);
        let m = ctx.open(&common::media_dir().join("h264_aac.mp4")).expect("open");
        let master = CString::new("master.m3u8").unwrap();
        assert_eq!(hls_segment_parts(m.0, master.as_ptr(), &mut p), HlsStatus::HLS_ERR_NOT_FOUND);
        assert!(p.parts.is_null(), "a failing call leaves the struct untouched");
        assert_eq!(hls_get_parts(m.0, master.as_ptr(), ptr::null_mut()), HlsStatus::HLS_ERR_NULL_ARGUMENT);
    }
}

fn cost(m: &Media, name: &str) -> HlsNameCost {
    let n = CString::new(name).expect("name");
    // SAFETY: a live handle and a NUL-terminated name.
    unsafe { hls_name_cost(m.0, n.as_ptr()) }
}

/// A server runs transcodes on threads of their own so that playlists never wait behind
/// them: it must be able to tell a transcoded segment from a playlist or a copied segment
/// before making it, and asking must not make it.
#[test]
fn a_transcoded_segment_is_told_apart_from_playlists_before_it_is_made() {
    common::ensure_media(&["dts.mkv"]).expect("media");
    let ctx = Ctx::new(64 << 20);
    let m = ctx.open(&common::media_dir().join("dts.mkv")).expect("open dts.mkv");
    use HlsNameCost::*;
    assert_eq!(cost(&m, "master.m3u8"), HLS_COST_PLAYLIST);
    assert_eq!(cost(&m, "t1.m3u8"), HLS_COST_PLAYLIST);
    assert_eq!(cost(&m, "t0_init.mp4"), HLS_COST_COPIED);
    assert_eq!(cost(&m, "t0_1.m4s"), HLS_COST_COPIED, "the H.264 video is copied");
    assert_eq!(cost(&m, "t1_init.mp4"), HLS_COST_COPIED);
    assert_eq!(cost(&m, "t1_1.m4s"), HLS_COST_TRANSCODED, "DTS is served as AAC made on demand");
    // asking twice made nothing: still not in the cache
    assert_eq!(cost(&m, "t1_1.m4s"), HLS_COST_TRANSCODED);
    let seg = get(&m, "t1_1.m4s").expect("t1_1.m4s");
    assert!(!seg.is_empty());
    assert_eq!(cost(&m, "t1_1.m4s"), HLS_COST_CACHED, "once made, a hit");
    assert_eq!(cost(&m, "t1_2.m4s"), HLS_COST_TRANSCODED);
    for bad in ["t9_0.m4s", "t1_999.m4s", "t0_1.vtt", "nonsense", ""] {
        assert_eq!(cost(&m, bad), HLS_COST_NONE, "{bad:?} is not a name of dts.mkv");
    }
    // SAFETY: NULL arguments are answered, not dereferenced.
    unsafe {
        assert_eq!(hls_name_cost(ptr::null(), c"master.m3u8".as_ptr()), HLS_COST_NONE);
        assert_eq!(hls_name_cost(m.0, ptr::null()), HLS_COST_NONE);
    }
}

fn open_indexed(ctx: &Ctx, path: &Path) -> Option<Media> {
    let p = CString::new(path.display().to_string()).expect("path");
    let mut m = ptr::null_mut();
    // SAFETY: valid pointers; no error asked for.
    let st = unsafe { hls_open_indexed(ctx.0, p.as_ptr(), ptr::null(), &mut m, ptr::null_mut()) };
    assert_eq!(st, HlsStatus::HLS_OK);
    (!m.is_null()).then_some(Media(m))
}

/// A server may serve cache hits on its event loop only if getting the media there never
/// indexes a file: `hls_open_indexed` hands out a media that is indexed and unchanged, and
/// nothing (NULL) when an open would have to read the file.
#[test]
fn an_event_loop_open_never_indexes_and_never_hands_out_a_changed_file() {
    let path = work_copy("open_indexed.mp4", "h264_aac.mp4");
    let ctx = Ctx::new(64 << 20);
    assert!(open_indexed(&ctx, &path).is_none(), "not indexed yet: no media, no indexing");
    assert!(open_indexed(&ctx, &path).is_none(), "still not: asking did not index it");
    let m = ctx.open(&path).expect("open");
    let master = get(&m, "master.m3u8").expect("master");
    let again = open_indexed(&ctx, &path).expect("indexed: a handle");
    assert_eq!(get(&again, "master.m3u8").expect("master"), master);
    assert_eq!(cost(&again, "master.m3u8"), HlsNameCost::HLS_COST_CACHED);
    drop(again);
    drop(m);
    assert!(open_indexed(&ctx, &path).is_some(), "closed but idle: still indexed");
    // rewritten with other bytes: a new version, never handed out from the old index
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.truncate(bytes.len() - 1000);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, &bytes).expect("rewrite");
    assert!(open_indexed(&ctx, &path).is_none(), "changed on disk: an open must index it again");
    let gone = path.with_extension("missing.mp4");
    let p = CString::new(gone.display().to_string()).expect("path");
    let mut out = ptr::null_mut();
    // SAFETY: valid pointers.
    let st = unsafe { hls_open_indexed(ctx.0, p.as_ptr(), ptr::null(), &mut out, ptr::null_mut()) };
    assert_ne!(st, HlsStatus::HLS_OK, "a missing file fails as hls_open does");
    assert!(out.is_null());
}

fn open_indexed_stat(ctx: &Ctx, path: &Path, id: &HlsFileIdentity) -> Option<Media> {
    let p = CString::new(path.display().to_string()).expect("path");
    let mut m = ptr::null_mut();
    // SAFETY: valid pointers; no error asked for.
    let st = unsafe { hls_open_indexed_stat(ctx.0, p.as_ptr(), ptr::null(), id, &mut m, ptr::null_mut()) };
    assert_eq!(st, HlsStatus::HLS_OK);
    (!m.is_null()).then_some(Media(m))
}

/// What a server's own `stat` of `path` says, as `hls_open_indexed_stat` takes it.
fn stat_identity(path: &Path) -> HlsFileIdentity {
    let md = std::fs::metadata(path).expect("stat");
    HlsFileIdentity { dev: md.dev(), ino: md.ino(), size: md.len(), mtime_sec: md.mtime(), mtime_nsec: md.mtime_nsec() }
}

/// A server that has `stat`ed the file itself passes what it saw instead of a second `stat`:
/// the same answers as `hls_open_indexed` (nothing before indexing, the media after, nothing
/// once the file changed), and never the indexed media for any other version of the file.
#[test]
fn an_event_loop_open_with_the_callers_stat_answers_as_one_with_its_own() {
    let path = work_copy("open_indexed_stat.mp4", "h264_aac.mp4");
    let ctx = Ctx::new(64 << 20);
    let id = stat_identity(&path);
    assert!(open_indexed_stat(&ctx, &path, &id).is_none(), "not indexed yet");
    let m = ctx.open(&path).expect("open");
    let master = get(&m, "master.m3u8").expect("master");
    let again = open_indexed_stat(&ctx, &path, &id).expect("indexed: a handle");
    assert_eq!(get(&again, "master.m3u8").expect("master"), master);
    assert_eq!(open_indexed(&ctx, &path).is_some(), open_indexed_stat(&ctx, &path, &id).is_some());
    // any field of another version: not this media
    for other in [
        HlsFileIdentity { dev: id.dev + 1, ..id },
        HlsFileIdentity { ino: id.ino + 1, ..id },
        HlsFileIdentity { size: id.size - 1, ..id },
        HlsFileIdentity { mtime_sec: id.mtime_sec + 1, ..id },
        HlsFileIdentity { mtime_nsec: (id.mtime_nsec + 1) % 1_000_000_000, ..id },
    ] {
        assert!(open_indexed_stat(&ctx, &path, &other).is_none(), "{other:?} is another version");
    }
    drop(again);
    drop(m);
    assert!(open_indexed_stat(&ctx, &path, &id).is_some(), "closed but idle: still indexed");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.truncate(bytes.len() - 1000);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, &bytes).expect("rewrite");
    assert!(open_indexed(&ctx, &path).is_none(), "changed on disk");
    assert!(open_indexed_stat(&ctx, &path, &stat_identity(&path)).is_none(), "changed: the new stat");
    let p = CString::new(path.display().to_string()).expect("path");
    let mut out = ptr::null_mut();
    // SAFETY: valid pointers but a NULL identity, which is refused.
    let st = unsafe { hls_open_indexed_stat(ctx.0, p.as_ptr(), ptr::null(), ptr::null(), &mut out, ptr::null_mut()) };
    assert_eq!(st, HlsStatus::HLS_ERR_NULL_ARGUMENT);
    assert!(out.is_null());
}

fn get_parts_min(m: &Media, name: &str, min_range: u64) -> Got {
    let n = CString::new(name).expect("name");
    let mut p = HlsParts::default();
    let mut err = ptr::null_mut();
    // SAFETY: valid pointers; parts and error freed here.
    unsafe {
        let st = hls_get_parts_min(m.0, n.as_ptr(), min_range, &mut p, &mut err);
        assert_eq!(st, HlsStatus::HLS_OK, "{name}: {}", take_error(err));
        let got = read_parts(&p).expect("parts");
        hls_free_parts(&mut p);
        got
    }
}

/// A file whose tracks are interleaved sample by sample has hundreds of small ranges per
/// segment; a server that asks for such segments as bytes gets exactly the same bytes, from
/// memory, and a hit afterwards (no read); segments with large enough ranges stay ranges.
#[test]
fn a_segment_of_small_ranges_asked_as_bytes_is_the_same_bytes_and_stays_cached() {
    common::ensure_media(&["h264_aac.mp4"]).expect("media");
    let ctx = Ctx::new(64 << 20);
    let m = ctx.open(&common::media_dir().join("h264_aac.mp4")).expect("open h264_aac.mp4");
    let segments: Vec<String> = names(&m).into_iter().filter(|n| n.ends_with(".m4s")).collect();
    assert!(!segments.is_empty());
    let mut as_bytes = 0;
    // A minimum every range reaches: ranges as before (asked before any segment is bytes: the
    // bytes of a segment read as bytes are cached with the same segment of the other tracks).
    for name in &segments {
        let ranges = get_parts(&m, name).expect("parts");
        let big = get_parts_min(&m, name, 1);
        assert!(big.bytes == ranges.bytes, "{name}: min 1 changed the bytes");
        assert_eq!((big.file_parts, big.fd), (ranges.file_parts, ranges.fd), "{name}: min 1");
    }
    for name in &segments {
        let ranges = get_parts(&m, name).expect("parts");
        // A minimum no range reaches: every segment with ranges comes back as bytes.
        let small = get_parts_min(&m, name, u64::MAX);
        assert!(small.bytes == ranges.bytes, "{name}: not the same bytes as its ranges");
        assert_eq!(small.content_type, ranges.content_type);
        assert_eq!(small.file, ranges.file, "{name}: the identity of the indexed file");
        if ranges.file_parts > 0 {
            as_bytes += 1;
            assert_eq!((small.file_parts, small.byte_parts, small.fd), (0, 1, -1), "{name}: one bytes part");
            assert_eq!(cost(&m, name), HlsNameCost::HLS_COST_CACHED);
            // again: from the cache, still bytes
            let again = get_parts_min(&m, name, u64::MAX);
            assert!(again.bytes == small.bytes && again.fd == -1, "{name}: the hit");
            // the same bytes hls_get hands out
            assert!(get(&m, name).expect("get") == ranges.bytes, "{name}: hls_get differs");
        }
        // None asked: exactly hls_get_parts_ex, ranges even when the bytes are cached.
        let plain = get_parts_min(&m, name, 0);
        assert!(plain.bytes == ranges.bytes, "{name}: min 0 changed the bytes");
        assert_eq!((plain.file_parts, plain.fd), (ranges.file_parts, ranges.fd), "{name}: min 0");
    }
    assert!(as_bytes > 0, "h264_aac.mp4 has segments with file ranges");
}

/// A player asks for a segment's video and audio together; in a file that interleaves them
/// sample by sample, reading one reads the other's samples too, so the other is kept with it:
/// a hit next, with exactly the bytes hls_get makes (and never for a name that is not light).
#[test]
fn the_audio_of_an_interleaved_segment_read_as_bytes_is_a_hit_with_the_right_bytes() {
    common::ensure_media(&["h264_aac.mp4", "h264_aac.mkv"]).expect("media");
    for file in ["h264_aac.mp4", "h264_aac.mkv"] {
        let want = {
            let ctx = Ctx::new(64 << 20);
            let m = ctx.open(&common::media_dir().join(file)).expect("open");
            get(&m, "t1_1.m4s").expect("t1_1.m4s by hls_get")
        };
        let ctx = Ctx::new(64 << 20);
        let m = ctx.open(&common::media_dir().join(file)).expect("open");
        assert_ne!(cost(&m, "t1_1.m4s"), HlsNameCost::HLS_COST_CACHED, "{file}: nothing cached yet");
        let video = get_parts_min(&m, "t0_1.m4s", u64::MAX);
        assert_eq!(video.file_parts, 0, "{file}: the video segment as bytes");
        assert_eq!(cost(&m, "t1_1.m4s"), HlsNameCost::HLS_COST_CACHED, "{file}: its audio came with it");
        assert_ne!(cost(&m, "t1_2.m4s"), HlsNameCost::HLS_COST_CACHED, "{file}: only that segment's");
        let audio = get_parts_min(&m, "t1_1.m4s", u64::MAX);
        assert!(audio.bytes == want, "{file}: the audio's bytes are hls_get's");
        assert_eq!((audio.file_parts, audio.byte_parts, audio.fd), (0, 1, -1), "{file}: one bytes part");
    }
}

/// Several players ask for the same segment of a file interleaved sample by sample at once,
/// each for its video and its audio together: the file's ranges are read once for all of them
/// (one read brings both tracks in), and every answer is hls_get's bytes. Then `hls_get` of
/// other segments, asked from many threads at once, reads each segment once too.
#[test]
fn concurrent_requests_for_an_interleaved_segment_read_the_file_once() {
    common::ensure_media(&["h264_aac.mp4", "h264_aac.mkv"]).expect("media");
    for file in ["h264_aac.mp4", "h264_aac.mkv"] {
        let path = common::media_dir().join(file);
        let want: Vec<Vec<u8>> = {
            let ctx = Ctx::new(64 << 20);
            let m = ctx.open(&path).expect("open");
            ["t0_1.m4s", "t1_1.m4s", "t0_2.m4s", "t1_2.m4s"].iter().map(|n| get(&m, n).expect(n)).collect()
        };
        let ctx = Ctx::new(64 << 20);
        let m = ctx.open(&path).expect("open");
        let reads = |ctx: &Ctx| ctx.stats()["range_reads"].as_u64().expect("range_reads");
        let got: Vec<(usize, Got)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let m = &m;
                    s.spawn(move || (i % 2, get_parts_min(m, ["t0_1.m4s", "t1_1.m4s"][i % 2], u64::MAX)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        for (t, g) in &got {
            assert!(g.bytes == want[*t], "{file}: t{t}_1.m4s is not hls_get's bytes");
            assert_eq!((g.file_parts, g.fd), (0, -1), "{file}: t{t}_1.m4s as bytes");
        }
        assert_eq!(reads(&ctx), 1, "{file}: 16 requests for the video and audio of one segment read the file once");
        let got: Vec<(usize, Vec<u8>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let m = &m;
                    s.spawn(move || (i % 2, get(m, ["t0_2.m4s", "t1_2.m4s"][i % 2]).expect("hls_get")))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        for (t, b) in &got {
            assert!(*b == want[2 + t], "{file}: t{t}_2.m4s by hls_get");
        }
        assert_eq!(reads(&ctx), 3, "{file}: 16 hls_get calls of two segments read each once");
    }
}

//! The persisted index (`hls_config_set_index_dir`): a second context (another process, worker or
//! restart) opens a file from its index file and serves byte for byte what indexing the media
//! serves; stale, truncated, damaged and foreign index files are never used and are rewritten;
//! racing writers leave one valid file; a directory that cannot be written costs nothing but
//! the persisting.

mod common;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use hls::engine::index_dir::IndexOrigin;
use hls::engine::Media;
use hls::index::persist::{self, Rejected};
use hls::{Config, Context, ErrorKind};
use serde_json::Value;

/// Files of every indexing path: MP4 sample tables, fragmented MP4, Matroska Cues, MPEG-TS
/// scan, audio only, subtitles, transcoded audio.
const FILES: &[&str] = &[
    "h264_aac.mp4",
    "h264_aac_frag.mp4",
    "h264_aac.mkv",
    "h264_aac.ts",
    "audio_only.m4a",
    "audio_only.mp3",
    "audio_only.mka",
    "subs.mp4",
    "mkvmerge_subs.mkv",
    "ac3_51.mp4",
    "dts.mkv",
    "vp9_opus.webm",
    "hevc_aac.ts",
];

fn media(name: &str) -> PathBuf {
    common::ensure_media(&[name]).expect("media");
    common::media_dir().join(name)
}

/// A fresh, empty scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let d = common::out_root().join("persisted-index").join(test);
    if d.exists() {
        // A run that failed half-way may have left a directory immutable.
        let _ = std::process::Command::new("chattr").arg("-R").arg("-i").arg(&d).status();
    }
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn ctx(dir: Option<&Path>) -> Context {
    Context::new(Config { cache_bytes: 0, index_dir: dir.map(Path::to_path_buf), ..Config::default() })
}

fn stats(ctx: &Context) -> Value {
    serde_json::from_str(&ctx.stats_json()).expect("stats json")
}

fn from_disk(m: &Media) -> bool {
    let info: Value = serde_json::from_str(&m.info_json()).expect("info json");
    let flag = info["index_from_disk"].as_bool().expect("index_from_disk");
    assert_eq!(flag, matches!(m.origin, IndexOrigin::Disk(_)));
    flag
}

/// URIs of a playlist line's `URI="..."` attribute.
fn uri(line: &str) -> Option<String> {
    line.split("URI=\"").nth(1).and_then(|r| r.split('"').next()).map(String::from)
}

/// Every resource a presentation names (master, media and I-frame playlists, init and media
/// segments, I-frame fragments, WebVTT), with its bytes.
fn crawl(ctx: &Context, m: &Media) -> Result<BTreeMap<String, Vec<u8>>, hls::Error> {
    let mut out = BTreeMap::new();
    let (master, _) = ctx.get(m, "master.m3u8")?;
    let text = String::from_utf8_lossy(&master).to_string();
    out.insert("master.m3u8".to_string(), master.to_vec());
    let mut playlists: Vec<String> =
        text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(String::from).collect();
    playlists.extend(text.lines().filter(|l| l.starts_with('#')).filter_map(uri));
    playlists.sort();
    playlists.dedup();
    for p in playlists {
        let (pl, _) = ctx.get(m, &p)?;
        for l in String::from_utf8_lossy(&pl).lines() {
            let name = if l.starts_with("#EXT-X-MAP") {
                uri(l)
            } else {
                (!l.starts_with('#') && !l.is_empty()).then(|| l.to_string())
            };
            if let Some(n) = name {
                if let std::collections::btree_map::Entry::Vacant(e) = out.entry(n) {
                    let (b, _) = ctx.get(m, e.key())?;
                    e.insert(b.to_vec());
                }
            }
        }
        out.insert(p, pl.to_vec());
    }
    Ok(out)
}

/// The presentation of `path` indexed from its media, in a context without an index directory.
fn reference(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let c = ctx(None);
    let m = c.open(path).expect("open");
    assert!(!from_disk(&m));
    crawl(&c, &m).expect("crawl")
}

fn same(path: &Path, want: &BTreeMap<String, Vec<u8>>, got: &BTreeMap<String, Vec<u8>>) {
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{}: other names", path.display());
    for (n, b) in want {
        assert!(got[n] == *b, "{}: {n} differs ({} vs {} bytes)", path.display(), got[n].len(), b.len());
    }
}

/// Opens `path` in a fresh context on `dir` and crawls it.
fn open_and_crawl(dir: &Path, path: &Path) -> (bool, BTreeMap<String, Vec<u8>>, Value) {
    let c = ctx(Some(dir));
    let m = c.open(path).expect("open");
    let disk = from_disk(&m);
    let pres = crawl(&c, &m).expect("crawl");
    (disk, pres, stats(&c))
}

fn only_index_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir).expect("dir").flatten().map(|e| e.path()).collect();
    assert_eq!(files.len(), 1, "one index file (no temporary left over): {files:?}");
    files[0].clone()
}

#[test]
fn a_restarted_server_serves_the_same_presentation_from_the_index_file() {
    let dir = scratch("round-trip");
    for f in FILES {
        let path = media(f);
        let want = reference(&path);
        // First process: indexes the media and writes the index file.
        let (disk, first, s) = open_and_crawl(&dir, &path);
        assert!(!disk, "{f}: nothing on disk yet");
        assert_eq!((s["index_file_misses"].as_u64(), s["index_file_writes"].as_u64()), (Some(1), Some(1)), "{f}: {s}");
        same(&path, &want, &first);
        // A restart: the index comes from the file, the presentation is the same, byte for byte.
        let c = ctx(Some(&dir));
        let m = c.open(&path).expect("open");
        if !from_disk(&m) {
            let s = stats(&c);
            let files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .map(|e| {
                    let b = std::fs::read(e.path()).unwrap();
                    format!("{:?}", persist::decode(&b).err())
                })
                .collect();
            panic!("{f}: the index file was not used: {s} {files:?}");
        }
        assert!(m.index.tables().iter().all(|t| t.is_mapped()), "{f}: sample tables copied, not read in place");
        same(&path, &want, &crawl(&c, &m).expect("crawl"));
        let s = stats(&c);
        assert_eq!((s["index_file_hits"].as_u64(), s["index_file_misses"].as_u64()), (Some(1), Some(0)), "{f}: {s}");
        assert_eq!(s["indexings"].as_u64(), Some(0), "{f}: indexed although read from disk");
    }
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), FILES.len(), "one index file per media file");
}

/// A copy of `name` in `dir` (so it can be changed), and an index dir beside it.
fn copied(test: &str, name: &str) -> (PathBuf, PathBuf) {
    let d = scratch(test);
    let file = d.join(name);
    std::fs::copy(media(name), &file).expect("copy");
    let idx = d.join("index");
    std::fs::create_dir_all(&idx).expect("index dir");
    (file, idx)
}

/// Damages the index file with `damage`, then checks a fresh open does not use it, serves the
/// reference presentation and rewrites a valid index file.
fn check_refused(f: &str, what: &str, damage: impl Fn(&mut Vec<u8>)) {
    let (path, idx) = copied(&format!("refused-{}", what.replace(' ', "-")), f);
    let want = reference(&path);
    let (disk, _, _) = open_and_crawl(&idx, &path);
    assert!(!disk);
    let file = only_index_file(&idx);
    let mut bytes = std::fs::read(&file).expect("index file");
    damage(&mut bytes);
    std::fs::write(&file, &bytes).expect("write damaged index");
    let (disk, got, s) = open_and_crawl(&idx, &path);
    assert!(!disk, "{f}: {what}: the index file was used");
    same(&path, &want, &got);
    assert_eq!(s["index_file_rewrites"].as_u64(), Some(1), "{f}: {what}: {s}");
    assert_eq!(s["index_file_writes"].as_u64(), Some(1), "{f}: {what}: {s}");
    // Rewritten: the next open uses it.
    let (disk, got, _) = open_and_crawl(&idx, &path);
    assert!(disk, "{f}: {what}: not rewritten");
    same(&path, &want, &got);
}

#[test]
fn truncated_damaged_and_foreign_index_files_are_never_served_and_are_rewritten() {
    for f in ["h264_aac.mp4", "h264_aac.mkv"] {
        check_refused(f, "truncated", |b| b.truncate(b.len() / 2));
        check_refused(f, "cut header", |b| b.truncate(20));
        check_refused(f, "empty", |b| b.clear());
        check_refused(f, "longer", |b| b.extend_from_slice(&[0; 16]));
        check_refused(f, "header bit", |b| b[20] ^= 1);
        check_refused(f, "serialized bit", |b| b[100] ^= 0x10);
        check_refused(f, "foreign version", |b| b[8] = b[8].wrapping_add(1));
        check_refused(f, "not an index", |b| b[..8].copy_from_slice(b"NOTANIDX"));
    }
}

#[test]
fn a_damaged_sample_table_is_refused_when_read_and_the_file_indexed_again() {
    let (path, idx) = copied("damaged-table", "h264_aac.mp4");
    let want = reference(&path);
    open_and_crawl(&idx, &path);
    let file = only_index_file(&idx);
    let mut bytes = std::fs::read(&file).expect("index file");
    // The last byte belongs to the last sample table (the audio's): a record's size.
    let n = bytes.len();
    bytes[n - 6] ^= 0x01;
    std::fs::write(&file, &bytes).expect("write");
    let c = ctx(Some(&idx));
    let m = c.open(&path).expect("open");
    assert!(from_disk(&m), "the tables are checked when read, not at open");
    // Crawling meets the damaged block: that request fails (never wrong bytes), the file goes.
    let err = crawl(&c, &m).expect_err("a segment of the damaged table was served");
    assert_eq!(err.kind, ErrorKind::FileChanged, "{err}");
    assert!(m.index_damaged());
    assert!(!file.exists(), "the damaged index file was not removed");
    // The next open indexes the media again, serves the right bytes and writes a good file.
    let m2 = c.open(&path).expect("reopen");
    assert!(!from_disk(&m2));
    same(&path, &want, &crawl(&c, &m2).expect("crawl"));
    let (disk, got, _) = open_and_crawl(&idx, &path);
    assert!(disk);
    same(&path, &want, &got);
}

#[test]
fn a_changed_media_file_is_indexed_again_never_served_from_a_stale_index() {
    let (path, idx) = copied("changed", "h264_aac.mp4");
    let (disk, _, _) = open_and_crawl(&idx, &path);
    assert!(!disk);
    // Touched (a new modification time): stale.
    let f = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).expect("touch");
    drop(f);
    let (disk, _, s) = open_and_crawl(&idx, &path);
    assert!(!disk, "served from the index of the untouched file");
    assert_eq!(s["index_file_rewrites"].as_u64(), Some(1), "{s}");
    assert!(open_and_crawl(&idx, &path).0, "rewritten for the touched file");
    // Rewritten in place with other content of the same size and the same modification time:
    // the hash of its header tells.
    let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).expect("mtime");
    let mut bytes = std::fs::read(&path).expect("read");
    let other = std::fs::read(media("h264_aac.mkv")).expect("read");
    bytes[..4096].copy_from_slice(&other[..4096]);
    std::fs::write(&path, &bytes).expect("rewrite");
    let f = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
    f.set_modified(mtime).expect("set mtime back");
    drop(f);
    let c = ctx(Some(&idx));
    let r = c.open(&path);
    assert!(r.as_ref().map_or(true, |m| !from_disk(m)), "a rewritten file was served from its old index");
    // Replaced by another file altogether: indexed again, and its own presentation served.
    std::fs::copy(media("h264_aac.mkv"), &path).expect("replace");
    let want = reference(&path);
    let (disk, got, _) = open_and_crawl(&idx, &path);
    assert!(!disk);
    same(&path, &want, &got);
}

#[test]
fn writers_racing_on_one_index_file_leave_one_valid_file() {
    let (path, idx) = copied("race", "h264_aac.mp4");
    let want = reference(&path);
    for round in 0..4 {
        let _ = std::fs::remove_dir_all(&idx);
        std::fs::create_dir_all(&idx).expect("index dir");
        let n = 4;
        let barrier = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (barrier, path, idx) = (barrier.clone(), path.clone(), idx.clone());
                std::thread::spawn(move || {
                    // One context per thread: each indexes and writes, as separate processes do.
                    let c = ctx(Some(&idx));
                    barrier.wait();
                    let m = c.open(&path).expect("open");
                    from_disk(&m)
                })
            })
            .collect();
        let disk: Vec<bool> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
        let file = only_index_file(&idx);
        let bytes = std::fs::read(&file).expect("index file");
        assert!(persist::decode(&bytes).is_ok(), "round {round}: the index file left is not valid ({disk:?})");
        let (disk, got, _) = open_and_crawl(&idx, &path);
        assert!(disk, "round {round}");
        same(&path, &want, &got);
    }
    // Two processes: two `hls-dump`-like children are this test binary's child mode.
    let _ = std::fs::remove_dir_all(&idx);
    std::fs::create_dir_all(&idx).expect("index dir");
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_process_opens_one_file", "--ignored", "--test-threads=1"])
                .env("PIDX_CHILD_FILE", &path)
                .env("PIDX_CHILD_DIR", &idx)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("child");
        assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let file = only_index_file(&idx);
    assert!(persist::decode(&std::fs::read(&file).expect("read")).is_ok());
    assert!(open_and_crawl(&idx, &path).0);
}

/// Child mode of the racing test (run only as its child process).
#[test]
#[ignore]
fn child_process_opens_one_file() {
    let (Some(file), Some(dir)) = (std::env::var_os("PIDX_CHILD_FILE"), std::env::var_os("PIDX_CHILD_DIR")) else {
        return;
    };
    let c = ctx(Some(Path::new(&dir)));
    let m = c.open(Path::new(&file)).expect("open");
    c.get(&m, "master.m3u8").expect("master");
}

#[test]
fn an_index_dir_that_cannot_be_written_still_serves_from_memory() {
    let path = media("h264_aac.mp4");
    let want = reference(&path);
    let d = scratch("read-only");
    // Not a directory at all.
    let not_dir = d.join("a-file");
    std::fs::write(&not_dir, b"x").expect("file");
    // A read-only directory (immutable too when running as root, whom modes do not stop).
    let ro = d.join("ro");
    std::fs::create_dir_all(&ro).expect("dir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    /// Makes the directory mutable again, however the test ends.
    struct Mutable(PathBuf);
    impl Drop for Mutable {
        fn drop(&mut self) {
            let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
        }
    }
    let immutable = std::process::Command::new("chattr").arg("+i").arg(&ro).status().is_ok_and(|s| s.success());
    let _mutable = immutable.then(|| Mutable(ro.clone()));
    let writable = std::fs::write(ro.join("probe"), b"x").is_ok();
    let mut dirs = vec![not_dir.clone(), not_dir.join("below-a-file")];
    if !writable {
        dirs.push(ro.clone());
    } else {
        eprintln!("note: {} stays writable (root without chattr): not checked", ro.display());
    }
    for dir in &dirs {
        for _ in 0..2 {
            let (disk, got, s) = open_and_crawl(dir, &path);
            assert!(!disk, "{}", dir.display());
            same(&path, &want, &got);
            assert_eq!(s["index_file_write_failures"].as_u64(), Some(1), "{}: {s}", dir.display());
            assert_eq!(s["index_file_writes"].as_u64(), Some(0));
        }
    }
    assert_eq!(std::fs::read(&not_dir).expect("file"), b"x", "the file named as directory was changed");
    // A directory that does not exist yet is made.
    let missing = d.join("made/on/first/write");
    let (disk, got, s) = open_and_crawl(&missing, &path);
    assert!(!disk);
    same(&path, &want, &got);
    assert_eq!(s["index_file_writes"].as_u64(), Some(1), "{s}");
    assert!(open_and_crawl(&missing, &path).0, "not read back from the directory made");
}

/// An index file with a valid header around `meta` (the serialized part) and `tables`.
fn forged(meta: &[u8], tables: &[u8]) -> Vec<u8> {
    persist::sealed(meta, tables)
}

#[test]
fn a_hostile_index_file_is_refused_without_panicking_or_allocating_its_claims() {
    // Take a real index apart to forge others with valid checksums.
    let (path, idx) = copied("hostile", "h264_aac.mp4");
    open_and_crawl(&idx, &path);
    let real = std::fs::read(only_index_file(&idx)).expect("index file");
    let meta_len = u64::from_le_bytes(real[24..32].try_into().unwrap()) as usize;
    let tables_at = u64::from_le_bytes(real[32..40].try_into().unwrap()) as usize;
    let meta = &real[64..64 + meta_len];
    let tables = &real[tables_at..];
    assert!(persist::decode(&forged(meta, tables)).is_ok(), "the forger is wrong");
    // Lengths claiming huge counts (a varint of 2^63): refused, nothing that size allocated.
    let mut huge = meta.to_vec();
    huge.truncate(200);
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert!(matches!(persist::decode(&forged(&huge, tables)), Err(Rejected::Corrupt(_))));
    for cut in [0, 1, 10, meta_len / 2, meta_len - 1] {
        assert!(matches!(persist::decode(&forged(&meta[..cut], tables)), Err(Rejected::Corrupt(_))), "cut {cut}");
    }
    // Tables shorter than the index says.
    assert!(matches!(persist::decode(&forged(meta, &tables[..tables.len() - 24])), Err(Rejected::Corrupt(_))));
    // Every byte of the serialized part changed in turn (checksums made to match): the reader
    // refuses it or reads some index, and never panics.
    let mut accepted = 0;
    for i in 0..meta_len {
        for x in [0x01u8, 0x80, 0xff] {
            let mut m = meta.to_vec();
            m[i] ^= x;
            if persist::decode(&forged(&m, tables)).is_ok() {
                accepted += 1;
            }
        }
    }
    eprintln!("{accepted} of {} single-byte changes still decode", 3 * meta_len);
}

#[test]
fn the_c_api_reports_where_each_index_came_from() {
    let path = media("h264_aac.mkv");
    let dir = scratch("c-api");
    let c_path = CString::new(path.display().to_string()).expect("path");
    let c_dir = CString::new(dir.display().to_string()).expect("dir");
    let mut infos = Vec::new();
    for _ in 0..2 {
        // SAFETY: plain C API use; every object is freed before the next round.
        unsafe {
            use hls::ffi::*;
            let cfg = hls_config_new();
            assert_eq!(hls_config_set_index_dir(cfg, c_dir.as_ptr()), HlsStatus::HLS_OK);
            assert_eq!(
                hls_config_set_index_dir(std::ptr::null_mut(), c_dir.as_ptr()),
                HlsStatus::HLS_ERR_NULL_ARGUMENT
            );
            let ctx = hls_context_new(cfg);
            hls_config_free(cfg);
            let mut m = std::ptr::null_mut();
            assert_eq!(hls_open(ctx, c_path.as_ptr(), &mut m), HlsStatus::HLS_OK);
            let json = |b: &HlsBuffer| -> Value {
                serde_json::from_slice(std::slice::from_raw_parts(b.data, b.len)).expect("json")
            };
            let mut b = HlsBuffer {
                data: std::ptr::null(),
                len: 0,
                content_type: std::ptr::null(),
                _private: std::ptr::null_mut(),
            };
            assert_eq!(hls_media_info_json(m, &mut b), HlsStatus::HLS_OK);
            let v = json(&b);
            hls_free_buffer(&mut b);
            assert_eq!(hls_context_stats_json(ctx, &mut b), HlsStatus::HLS_OK);
            let s = json(&b);
            hls_free_buffer(&mut b);
            infos.push((
                v["index_from_disk"].as_bool(),
                s["index_file_hits"].as_u64(),
                s["index_file_misses"].as_u64(),
            ));
            hls_close(m);
            hls_context_free(ctx);
        }
    }
    assert_eq!(infos, vec![(Some(false), Some(0), Some(1)), (Some(true), Some(1), Some(0))]);
}

//! The shared engine through the C API: files that change on disk, idle retention of closed
//! media, single-flight opens from real threads, and buffers that outlive eviction and close.

mod common;

use std::ffi::CString;
use std::path::PathBuf;

use common::capi::{self, empty_buffer as empty, get, Ctx};
use hls::ffi::*;

fn work_copy(name: &str, from: &str) -> PathBuf {
    capi::work_copy("engine", name, from)
}

#[test]
fn a_file_rewritten_on_disk_is_reindexed_and_old_handles_fail_clearly() {
    let path = work_copy("changing.mp4", "h264_aac.mp4");
    let ctx = Ctx::new(64 << 20);
    let old = ctx.open(&path).expect("open");
    let seg0 = get(&old, "t0_0.m4s").expect("segment before the change");
    let master_old = get(&old, "master.m3u8").expect("master");
    // Rewrite in place with different content (size and mtime change; same inode).
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, std::fs::read(common::media_dir().join("h264_2997.mp4")).expect("read")).expect("rewrite");
    // The old handle: cached bytes stay consistent with its index; an uncached segment fails
    // with FILE_CHANGED (never bytes of the new file under the old index).
    assert_eq!(get(&old, "t0_0.m4s").expect("cached"), seg0);
    match get(&old, "t0_3.m4s") {
        Err((HlsStatus::HLS_ERR_FILE_CHANGED, msg)) => assert!(msg.contains("changed"), "{msg}"),
        other => panic!("expected FILE_CHANGED, got {:?}", other.map(|v| v.len())),
    }
    // A new open re-indexes: different presentation.
    let new = ctx.open(&path).expect("reopen");
    let master_new = get(&new, "master.m3u8").expect("master");
    assert_ne!(master_old, master_new, "the new index must describe the new file");
    assert!(get(&new, "t0_3.m4s").is_ok());
    assert_eq!(ctx.stats()["indexings"], 2);
}

#[test]
fn closed_media_stay_indexed_and_reopen_costs_no_indexing() {
    let path = work_copy("idle.mp4", "h264_aac.mp4");
    let ctx = Ctx::new(8 << 20);
    let m = ctx.open(&path).expect("open");
    drop(m);
    let s = ctx.stats();
    assert_eq!(s["media_idle"], 1, "{s}");
    let _reopened = ctx.open(&path).expect("reopen");
    let s = ctx.stats();
    assert_eq!(s["indexings"], 1, "{s}");
    assert_eq!(s["open_reuses"], 1, "{s}");
}

#[test]
fn without_idle_retention_closed_media_leave_no_registry_entry() {
    let ctx = Ctx::configured(|cfg| {
        // SAFETY: a live configuration handle.
        assert_eq!(unsafe { hls_config_set_idle_media(cfg, 8, 0) }, HlsStatus::HLS_OK);
    });
    for i in 0..20 {
        let path = work_copy(&format!("no_idle_{i}.mp4"), "h264_aac.mp4");
        let m = ctx.open(&path).expect("open");
        assert!(get(&m, "master.m3u8").is_ok());
        drop(m);
    }
    let s = ctx.stats();
    assert_eq!(s["media_registered"], 0, "20 distinct files opened and closed with a TTL of 0: {s}");
    assert_eq!(s["media_idle"], 0, "{s}");
    assert_eq!(s["indexings"], 20, "{s}");
}

#[test]
fn concurrent_first_opens_index_once_and_share_the_result() {
    let path = work_copy("single_flight.mkv", "multi_audio.mkv");
    let ctx = Ctx::new(8 << 20);
    let handles: Vec<capi::Media> = std::thread::scope(|s| {
        let joins: Vec<_> = (0..12).map(|_| s.spawn(|| ctx.open(&path).expect("open"))).collect();
        joins.into_iter().map(|j| j.join().expect("thread")).collect()
    });
    let s = ctx.stats();
    assert_eq!(s["indexings"], 1, "12 concurrent opens must index once: {s}");
    assert_eq!(s["opens"], 12, "{s}");
    drop(handles);
}

#[test]
fn buffers_outlive_eviction_close_and_context_free() {
    let path = work_copy("lifetime.mp4", "h264_aac.mp4");
    let ctx = Ctx::new(300_000);
    let m = ctx.open(&path).expect("open");
    let n = CString::new("t0_1.m4s").expect("name");
    let mut held = empty();
    // SAFETY: valid pointers; `held` is freed at the end, after close and context free.
    unsafe {
        assert_eq!(hls_segment(m.0, n.as_ptr(), &mut held), HlsStatus::HLS_OK);
        let copy = std::slice::from_raw_parts(held.data, held.len).to_vec();
        for k in 0..7 {
            let _ = get(&m, &format!("t0_{k}.m4s"));
            let _ = get(&m, &format!("t1_{k}.m4s"));
        }
        // The small budget holds few of these (eviction itself is unit-tested in cache.rs).
        let st = ctx.stats();
        assert!(st["cache_bytes"].as_u64().unwrap_or(u64::MAX) <= 300_000, "{st}");
        drop(m);
        drop(ctx);
        assert_eq!(std::slice::from_raw_parts(held.data, held.len), &copy[..]);
        hls_free_buffer(&mut held);
        hls_free_buffer(&mut held); // idempotent
        assert!(held.data.is_null());
    }
}

#[test]
fn a_truncated_matroska_file_is_reported_not_half_served() {
    common::ensure_media(&["multi_audio.mkv"]).expect("media");
    let full = std::fs::read(common::media_dir().join("multi_audio.mkv")).expect("read");
    let dir = common::out_root().join("engine");
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join("truncated.mkv");
    std::fs::write(&p, &full[..full.len() / 2]).expect("write");
    let ctx = Ctx::new(1 << 20);
    match ctx.open(&p) {
        Err((HlsStatus::HLS_ERR_INVALID_MEDIA, msg)) => {
            assert!(msg.contains("truncated") && msg.contains("truncated.mkv"), "{msg}")
        }
        other => panic!("expected INVALID_MEDIA for a truncated MKV, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn default_open_options_share_the_plain_open_presentation() {
    let path = common::media_dir().join("h264_aac.mp4");
    let ctx = Ctx::new(8 << 20);
    let plain = ctx.open(&path).expect("open");
    let c = CString::new(path.to_str().expect("utf-8")).expect("path");
    // SAFETY: a fresh options handle, freed once after the open (the media keeps a copy).
    let with = unsafe {
        let opts = hls_open_options_new();
        assert!(!opts.is_null());
        let mut m = std::ptr::null_mut();
        let st = hls_open_with(ctx.0, c.as_ptr(), opts, &mut m, std::ptr::null_mut());
        hls_open_options_free(opts);
        assert_eq!(st, HlsStatus::HLS_OK);
        capi::Media(m)
    };
    assert_eq!(get(&plain, "master.m3u8").expect("master"), get(&with, "master.m3u8").expect("master"));
    let s = ctx.stats();
    assert_eq!(s["indexings"], 1, "equal options share one index: {s}");
    assert_eq!(s["open_reuses"], 1, "{s}");
}

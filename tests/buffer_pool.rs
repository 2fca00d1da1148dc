//! Segment bytes read into recycled memory (`engine::pool`): buffers given back by the cache's
//! evictions and by `hls_free_parts` / `hls_free_buffer` are reused for the next segment read.
//! A reused buffer must hold exactly the new segment's bytes, never an earlier one's. Alone in
//! its own test binary, so the process-wide pool's counters are this test's.

mod common;

use std::ffi::CString;
use std::ptr;

use common::capi::{get, names, take_error, Ctx, Media};
use hls::ffi::*;

/// `hls_get_parts_min` with every segment's ranges counted small: the segment as one bytes part.
fn as_bytes(m: &Media, name: &str) -> Vec<u8> {
    let n = CString::new(name).expect("name");
    let mut p = HlsParts::default();
    let mut err = ptr::null_mut();
    // SAFETY: valid pointers; the parts and the error are freed here.
    unsafe {
        let st = hls_get_parts_min(m.0, n.as_ptr(), u64::MAX / 2, &mut p, &mut err);
        assert_eq!(st, HlsStatus::HLS_OK, "{name}: {}", take_error(err));
        let parts = std::slice::from_raw_parts(p.parts, p.count);
        let mut out = Vec::new();
        for part in parts {
            assert_eq!(part.kind, HlsPartKind::HLS_PART_BYTES, "{name}: asked as bytes");
            out.extend_from_slice(std::slice::from_raw_parts(part.data, part.len as usize));
        }
        hls_free_parts(&mut p);
        out
    }
}

#[test]
fn a_segment_read_into_recycled_memory_is_exactly_its_own_bytes() {
    let files = ["h264_aac.mp4", "multi_audio.mp4", "hevc_aac.mp4"];
    common::ensure_media(&files).expect("media");
    let reference = Ctx::new(0);
    // No cache (every read's buffer comes back at hls_free_parts), and a cache so small that
    // most segments are not kept and the rest are evicted one after another.
    for budget in [0u64, 512 << 10] {
        let ctx = Ctx::new(budget);
        for file in files {
            let path = common::media_dir().join(file);
            let want_m = reference.open(&path).expect("open");
            let m = ctx.open(&path).expect("open");
            let segments: Vec<String> =
                names(&m).into_iter().filter(|n| n.ends_with(".m4s") && !n.contains("init")).collect();
            assert!(segments.len() > 2, "{file}");
            // Forwards, then backwards: each buffer is reused for a segment of another size and
            // another track, whose bytes must replace every one of the old segment's.
            for name in segments.iter().chain(segments.iter().rev()) {
                let want = get(&want_m, name).expect("hls_get");
                assert!(as_bytes(&m, name) == want, "{file} {name} (cache {budget}): not its own bytes");
            }
        }
        let st = ctx.stats();
        assert!(st["buffer_pool_reuses"].as_u64().unwrap() > 0, "no buffer was reused: {st}");
        assert!(st["buffer_pool_bytes"].as_u64().unwrap() <= hls::engine::pool::MAX_POOL_BYTES, "{st}");
        assert!(st["cache_bytes"].as_u64().unwrap() <= budget, "the cache stays within its budget: {st}");
    }
}

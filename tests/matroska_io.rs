//! What opening a Matroska file reads: from its Cues, a small part of the file; by a packet
//! scan, all of it. Measured with this process's `rchar` (bytes returned by read/pread), so this
//! file holds one test and nothing else runs in the process while it measures.

mod common;

use std::path::Path;

use hls::{Config, Context};

/// (bytes returned by read/pread, read/pread calls) of this process so far.
fn io_counts() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/io").expect("/proc/self/io");
    let field = |name: &str| -> u64 {
        s.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).expect(name)
    };
    (field("rchar:"), field("syscr:"))
}

/// Opens `path` in a fresh context; returns (bytes read, read calls, how it was indexed,
/// segments).
fn open(path: &Path, use_cues: bool) -> (u64, u64, String, usize) {
    let ctx = Context::new(Config { use_container_index: use_cues, cache_bytes: 0, ..Config::default() });
    let before = io_counts();
    let m = ctx.open(path).expect("open");
    let after = io_counts();
    (after.0 - before.0, after.1 - before.1, m.index.indexed_from.name().to_string(), m.index.segment_count())
}

#[test]
fn opening_from_cues_reads_a_small_part_of_the_file() {
    common::ensure_media(&["looped_4min.mkv"]).expect("media");
    let path = common::media_dir().join("looped_4min.mkv");
    let size = std::fs::metadata(&path).expect("stat").len();
    // Warm FFmpeg's own one-time reads (library start-up) out of the measurement.
    let _ = open(&path, true);
    let (cues, cue_calls, how, segments) = open(&path, true);
    let (scan, scan_calls, how_scan, segments_scan) = open(&path, false);
    eprintln!(
        "{size} bytes, {segments} segments: open from Cues read {cues} bytes in {cue_calls} calls, packet scan \
         {scan} bytes in {scan_calls} calls"
    );
    assert_eq!(how, "matroska cues");
    assert_eq!(how_scan, "packet scan");
    assert_eq!(segments, segments_scan);
    assert!(segments >= 40, "{segments} segments");
    // Header, Cues, the first GOPs, the last ~20 s and a page per boundary: well under a third
    // of a 4-minute file (the share shrinks as files grow: 6% of a 2-hour one in the bench).
    assert!(cues * 3 < size, "the Cue-based open read {cues} of {size} bytes");
    assert!(scan >= size, "the scan read {scan} of {size} bytes");
    // One `pread` per segment boundary (the blocks after its keyframe, in one window), not a
    // page per block run; plus the header, the Cues and FFmpeg's reads of the first GOPs and
    // the last ~20 s (its 32 KiB buffer).
    assert!(cue_calls <= segments as u64 + 80, "the Cue-based open made {cue_calls} reads for {segments} segments");
}

//! What opening a Matroska file reads: from its Cues, a small part of the file; by a packet
//! scan, all of it. Measured with this process's `rchar` (bytes returned by read/pread), so this
//! file holds one test and nothing else runs in the process while it measures.

mod common;

use std::path::Path;

use hls::{Config, Context};

fn bytes_read() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("rchar:").and_then(|v| v.trim().parse().ok())))
        .expect("/proc/self/io rchar")
}

/// Opens `path` in a fresh context; returns (bytes read, how it was indexed, segments).
fn open(path: &Path, use_cues: bool) -> (u64, String, usize) {
    let ctx = Context::new(Config { use_container_index: use_cues, cache_bytes: 0, ..Config::default() });
    let before = bytes_read();
    let m = ctx.open(path).expect("open");
    let read = bytes_read() - before;
    (read, m.index.indexed_from.name().to_string(), m.index.segment_count())
}

#[test]
fn opening_from_cues_reads_a_small_part_of_the_file() {
    common::ensure_media(&["looped_4min.mkv"]).expect("media");
    let path = common::media_dir().join("looped_4min.mkv");
    let size = std::fs::metadata(&path).expect("stat").len();
    // Warm FFmpeg's own one-time reads (library start-up) out of the measurement.
    let _ = open(&path, true);
    let (cues, how, segments) = open(&path, true);
    let (scan, how_scan, segments_scan) = open(&path, false);
    eprintln!("{size} bytes: open from Cues read {cues}, packet scan read {scan}");
    assert_eq!(how, "matroska cues");
    assert_eq!(how_scan, "packet scan");
    assert_eq!(segments, segments_scan);
    assert!(segments >= 40, "{segments} segments");
    // Header, Cues, the first GOPs, the last ~20 s and a page per boundary: well under a third
    // of a 4-minute file (the share shrinks as files grow: 6% of a 2-hour one in the bench).
    assert!(cues * 3 < size, "the Cue-based open read {cues} of {size} bytes");
    assert!(scan >= size, "the scan read {scan} of {size} bytes");
}

//! What opening a fragmented MP4 reads: its boxes (the `moov`, every `moof`, a header per other
//! top-level box) and two samples per track for the codec configuration, never the media data
//! between them. Measured with this process's `rchar` (bytes returned by read/pread), like
//! tests/matroska_io.rs, so this file holds one test and nothing else runs in the process while
//! it measures.

mod common;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Command;

use hls::{Config, Context};

fn bytes_read() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("rchar:").and_then(|v| v.trim().parse().ok())))
        .expect("/proc/self/io rchar")
}

/// (number, total bytes) of the top-level `moof` boxes and the number of top-level boxes.
fn moofs(path: &Path) -> (u64, u64, u64) {
    let mut f = File::open(path).expect("open");
    let size = f.metadata().expect("stat").len();
    let (mut pos, mut n, mut bytes, mut all) = (0u64, 0u64, 0u64, 0u64);
    while pos + 8 <= size {
        let mut h = [0u8; 16];
        f.seek(SeekFrom::Start(pos)).expect("seek");
        f.read_exact(&mut h[..8]).expect("read");
        let mut len = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
        if len == 1 {
            f.read_exact(&mut h[8..]).expect("read");
            len = u64::from_be_bytes(h[8..16].try_into().unwrap());
        } else if len == 0 {
            len = size - pos;
        }
        if &h[4..8] == b"moof" {
            n += 1;
            bytes += len;
        }
        all += 1;
        pos += len.max(8);
    }
    (n, bytes, all)
}

#[test]
fn opening_a_fragmented_recording_reads_only_its_boxes() {
    common::ensure_media(&["looped_4min.mkv"]).expect("media");
    // A 4-minute recording as OBS-like recorders write it: empty moov, a moof + mdat per GOP.
    let dir = common::out_root().join("fragmented_io");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("looped_4min_frag.mp4");
    if !path.is_file() {
        let tmp = dir.join("looped_4min_frag.tmp.mp4");
        common::run_ok(
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-y", "-i"])
                .arg(common::media_dir().join("looped_4min.mkv"))
                .args(["-map", "0", "-c", "copy", "-movflags", "frag_keyframe+empty_moov+default_base_moof"])
                .args(["-fflags", "+bitexact", "-f", "mp4"])
                .arg(&tmp),
        )
        .expect("remux");
        std::fs::rename(&tmp, &path).expect("rename");
    }
    let size = std::fs::metadata(&path).expect("stat").len();
    let (n, moof_bytes, boxes) = moofs(&path);
    let ctx = Context::new(Config { cache_bytes: 0, ..Config::default() });
    // Warm FFmpeg's and the library's one-time reads out of the measurement.
    drop(ctx.open(&path).expect("open"));
    let ctx = Context::new(Config { cache_bytes: 0, ..Config::default() });
    let before = bytes_read();
    let m = ctx.open(&path).expect("open");
    let read = bytes_read() - before;
    let how = m.index.indexed_from.name().to_string();
    let segments = m.index.segment_count();
    eprintln!(
        "{size} bytes, {boxes} top-level boxes, {n} moofs of {moof_bytes} bytes: the open read {read} bytes \
         ({:.2}% of the file, {:.2}x the moofs), {segments} segments",
        100.0 * read as f64 / size as f64,
        read as f64 / moof_bytes as f64
    );
    assert_eq!(how, "mp4 movie fragments");
    assert!(segments >= 40, "{segments} segments");
    assert!(n >= 100, "{n} moofs");
    // The moofs, a 16-byte header per top-level box, the moov, and the first sample and a later
    // keyframe of each track (the codec configuration): a few KiB more than the moofs, nothing
    // of the media data in between.
    let samples_allowance = 256 << 10;
    assert!(read >= moof_bytes, "read {read} bytes, less than the {moof_bytes} bytes of moofs");
    assert!(
        read <= moof_bytes + 16 * boxes + samples_allowance,
        "read {read} bytes: more than the moofs ({moof_bytes}) + box headers + two samples per track"
    );
    assert!(read * 20 < size, "the open read {read} of {size} bytes");
}

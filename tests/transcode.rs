//! Audio that players can't play, served as AAC made per segment, through the C API (hls-dump):
//! random-order generation equals sequential generation byte for byte (segments of different
//! tracks in parallel), FFmpeg decodes everything, sample counts match the source, and the
//! decoded audio lines up with the source's.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (file, transcode policy) pairs covering DTS, TrueHD, PCM, Vorbis (always transcoded) and
/// FLAC, Opus, MP3, AC-3 5.1 (transcoded under the browser-safe policy).
const CASES: &[(&str, &str)] = &[
    ("dts.mkv", "unplayable"),
    ("truehd.mkv", "unplayable"),
    ("pcm.mov", "unplayable"),
    ("vorbis.mkv", "unplayable"),
    ("opus_flac.mkv", "browser-safe"),
    ("audio_only.mp3", "browser-safe"),
    ("ac3_51.mp4", "browser-safe"),
    // The extra AAC rendition beside AC-3 / E-AC-3 passthrough.
    ("multi_audio.mp4", "add-aac"),
    // The same from mkvmerge's laced AC-3 / E-AC-3, planned from the Cues (the default policy).
    ("mkvmerge_multi.mkv", "add-aac"),
];

fn hls_dump() -> PathBuf {
    let setup = common::build_c_programs().expect("C programs");
    setup.hls_dump.clone()
}

fn dump(src: &Path, out: &Path, policy: &str, extra: &[&str]) {
    let _ = std::fs::remove_dir_all(out);
    let o = Command::new(hls_dump())
        .args(["--transcode", policy])
        .args(extra)
        .arg(src)
        .arg(out)
        .output()
        .expect("hls-dump");
    assert!(o.status.success(), "hls-dump {} failed: {}", src.display(), String::from_utf8_lossy(&o.stderr));
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut t = common::read_tree(dir).expect("read tree");
    t.remove("info.json");
    t
}

/// Transcoded tracks of a dump: rendition id (as in names), source stream index and channel
/// count, from info.json.
fn transcoded_tracks(dir: &Path) -> Vec<(String, usize, u64)> {
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("info.json")).expect("info")).expect("json");
    info["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .filter(|t| t["delivery"] == "transcode-aac")
        .map(|t| {
            (
                t["rendition"].as_str().unwrap().to_string(),
                t["index"].as_u64().unwrap() as usize,
                t["channels"].as_u64().unwrap_or(2),
            )
        })
        .collect()
}

/// init + segments of rendition `n` in playlist order, as one file.
fn concat(dir: &Path, n: &str) -> PathBuf {
    let playlist = std::fs::read_to_string(dir.join(format!("t{n}.m3u8"))).expect("playlist");
    let mut bytes = std::fs::read(dir.join(format!("t{n}_init.mp4"))).expect("init");
    for l in playlist.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        bytes.extend(std::fs::read(dir.join(l)).expect("segment"));
    }
    let p = dir.join(format!("t{n}_all.mp4"));
    std::fs::write(&p, bytes).expect("write");
    p
}

/// Decoded mono f32 samples at 48 kHz from time 0 of the file's timeline (downmixed to mono, so
/// source and output compare whatever their channel counts).
fn decode_mono(path: &Path, map: &str) -> Vec<f32> {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-copyts", "-i"])
        .arg(path)
        .args(["-map", map, "-ac", "1", "-ar", "48000"])
        // Keep the file's own timestamps (-copyts) and place the first sample at its timestamp
        // (silence before it), so both sides share the source's timeline even when the first
        // decoded audio starts after 0 (Vorbis, MP3 encoder delay, priming).
        .args(["-af", "aresample=async=1:first_pts=0", "-f", "f32le", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "decode {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Best lag (in samples, within ±max_lag) of `b` against `a`, and its normalised correlation.
fn best_lag(a: &[f32], b: &[f32], from: usize, len: usize, max_lag: i64) -> (i64, f64) {
    let mut best = (0, f64::MIN);
    for lag in -max_lag..=max_lag {
        let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
        for i in from..from + len {
            let j = i as i64 + lag;
            if j < 0 || j as usize >= b.len() || i >= a.len() {
                continue;
            }
            let (x, y) = (a[i] as f64, b[j as usize] as f64);
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        let c = ab / (aa.sqrt() * bb.sqrt()).max(1e-12);
        if c > best.1 {
            best = (lag, c);
        }
    }
    best
}

#[test]
fn transcoded_audio_is_order_independent_decodable_complete_and_in_sync() {
    let files: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    common::ensure_media(&files).expect("media");
    let media = common::media_dir();
    let out = common::out_root().join("transcode");
    let mut checked = 0;
    let mut failures = Vec::new();
    for (file, policy) in CASES {
        let src = media.join(file);
        let seq = out.join(format!("{file}.seq"));
        let rnd = out.join(format!("{file}.rnd"));
        dump(&src, &seq, policy, &["--threads", "1"]);
        dump(&src, &rnd, policy, &["--threads", "4", "--shuffle", "20261127"]);
        let (a, b) = (tree(&seq), tree(&rnd));
        if a != b {
            let differ: Vec<&String> = a.keys().filter(|k| a.get(*k) != b.get(*k)).collect();
            failures.push(format!("{file}: random-order/parallel generation differs from sequential in {differ:?}"));
        }
        let tracks = transcoded_tracks(&seq);
        if tracks.is_empty() {
            failures.push(format!("{file}: no transcoded track (policy {policy})"));
            continue;
        }
        let o = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(seq.join("master.m3u8"))
            .args(["-map", "0", "-f", "null", "-"])
            .output()
            .expect("ffmpeg");
        if !o.status.success() || !o.stderr.is_empty() {
            failures.push(format!("{file}: ffmpeg decoding the presentation: {}", String::from_utf8_lossy(&o.stderr)));
        }
        for (n, stream, _channels) in tracks {
            let all = concat(&seq, &n);
            let ours = decode_mono(&all, "0:a:0");
            let theirs = decode_mono(&src, &format!("0:{stream}"));
            // Sample count: the source's duration at 48 kHz, within one AAC frame (1024).
            let diff = ours.len() as i64 - theirs.len() as i64;
            if diff.abs() > 1024 {
                failures.push(format!(
                    "{file} t{n}: {} samples decoded, source has {} (diff {diff} > 1024)",
                    ours.len(),
                    theirs.len()
                ));
            }
            // Sync: the decoded output lines up with the decoded source within 1 ms (48 samples).
            let from = theirs.len().min(ours.len()) / 2;
            let (lag, corr) = best_lag(&theirs, &ours, from, 9600, 96);
            if lag.abs() > 48 || corr < 0.95 {
                failures.push(format!("{file} t{n}: output is {lag} samples off the source (correlation {corr:.3}); must be within 48 (1 ms)"));
            }
            println!(
                "{file} t{n}: {} samples (source {}), offset {lag} samples, correlation {corr:.4}",
                ours.len(),
                theirs.len()
            );
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
    assert!(checked > CASES.len(), "only {checked} transcoded tracks checked");
}

//! Matroska indexed from its Cues serves what a packet scan serves.
//!
//! Every Matroska test file is crawled twice with `hls-dump`: indexed from its Cues (the default)
//! and with `--scan` (`hls_config_set_use_container_index(cfg, 0)`), which reads every packet.
//! Both must name the same resources, and every media playlist, init segment, media segment and
//! WebVTT segment must be byte-identical: EXTINF values, segment boundaries, audio cut points,
//! timestamps and sample data all agree. Only the master playlist's BANDWIDTH and
//! AVERAGE-BANDWIDTH may differ: from Cues they are derived from the byte ranges between
//! keyframes, so they must stay at or above the scan's (measured) values and not far above.
//!
//! The files cover FFmpeg's and mkvmerge's muxing (laced audio: Xiph/EBML lacing split into
//! frames timed from DefaultDuration, subtitles without Cues), Cues after the clusters (FFmpeg's
//! default), Cues before them, B-frames and
//! none (audio at a keyframe stored before it), open GOPs (HEVC CRA), Opus CodecDelay, several
//! audio tracks, SRT/ASS subtitles, a start at 10 s and transcoded audio. A file without Cues
//! must be indexed by the scan and serve the same segments.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;

const WITH_CUES: &[&str] = &[
    "h264_aac.mkv",
    "multi_audio.mkv",
    "offset_start.mkv",
    "opus_flac.mkv",
    "hevc_aac.mkv",
    "no_bframes.mkv",
    "cues_front.mkv",
    "dts.mkv",
    "truehd.mkv",
    "vorbis.mkv",
    "mkvmerge_multi.mkv",
    "mkvmerge_subs.mkv",
    "h264_opengop.mkv",
    "subs_outlast.mkv",
];

/// Crawls `file` into `out` and returns every file written, by name.
fn dump(hls_dump: &Path, file: &str, scan: bool, out: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| format!("rm -r {}: {e}", out.display()))?;
    }
    let mut cmd = Command::new(hls_dump);
    // The policy these comparisons were written for (DTS, TrueHD, Vorbis... transcoded; AC-3
    // copied). Under the default policy, the AAC renditions made beside mkvmerge's laced AC-3
    // differ by a few hundred bytes per segment between the Cues and the scan path (each path is
    // self-consistent and in sync, see tests/transcode.rs): a known difference, not compared here.
    cmd.args(["--transcode", "unplayable"]);
    if scan {
        cmd.arg("--scan");
    }
    run_ok(cmd.arg(media_dir().join(file)).arg(out).env("LD_LIBRARY_PATH", root().join("target/release")))?;
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))? {
        let e = e.map_err(|e| e.to_string())?;
        let name = e.file_name().to_string_lossy().into_owned();
        files.insert(name, std::fs::read(e.path()).map_err(|e| e.to_string())?);
    }
    Ok(files)
}

fn indexed_from(files: &BTreeMap<String, Vec<u8>>) -> String {
    files
        .get("info.json")
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| v["indexed_from"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A master playlist line with the bandwidth values taken out, and those values.
fn split_bandwidth(line: &str) -> (String, Vec<u64>) {
    let mut values = Vec::new();
    let mut rest = String::new();
    for attr in line.split(',') {
        match attr.split_once('=') {
            Some((k, v)) if k.ends_with("BANDWIDTH") => {
                values.push(v.parse().unwrap_or(0));
                rest.push_str(k);
            }
            _ => rest.push_str(attr),
        }
        rest.push(',');
    }
    (rest, values)
}

fn compare(file: &str, cues: &BTreeMap<String, Vec<u8>>, scan: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut bad = Vec::new();
    if cues.keys().ne(scan.keys()) {
        bad.push(format!(
            "{file}: different resources: {:?} vs {:?}",
            cues.keys().collect::<Vec<_>>(),
            scan.keys().collect::<Vec<_>>()
        ));
        return bad;
    }
    let mut identical = 0;
    for (name, bytes) in cues {
        if name == "info.json" || name == "master.m3u8" {
            continue;
        }
        if *bytes != scan[name] {
            bad.push(format!("{file}: {name} differs from the scan's ({} vs {} bytes)", bytes.len(), scan[name].len()));
        } else {
            identical += 1;
        }
    }
    if identical < 3 {
        bad.push(format!("{file}: only {identical} resources compared"));
    }
    let (a, b) = (String::from_utf8_lossy(&cues["master.m3u8"]), String::from_utf8_lossy(&scan["master.m3u8"]));
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    if la.len() != lb.len() {
        bad.push(format!("{file}: master playlists have {} and {} lines", la.len(), lb.len()));
        return bad;
    }
    let mut variants = 0;
    for (x, y) in la.iter().zip(&lb) {
        let ((rx, vx), (ry, vy)) = (split_bandwidth(x), split_bandwidth(y));
        if rx != ry {
            bad.push(format!("{file}: master line differs:\n  cues: {x}\n  scan: {y}"));
            continue;
        }
        for (cue_bw, scan_bw) in vx.iter().zip(&vy) {
            variants += 1;
            // Never below what was measured; above it by the estimate's headroom only. An I-frame
            // playlist's rates on the Cues path are an upper bound from its segments' byte spans
            // (which hold the other tracks' interleaved blocks too): only the floor applies.
            let iframe = x.starts_with("#EXT-X-I-FRAME-STREAM-INF");
            if (*cue_bw as f64) < *scan_bw as f64 * 0.98 || (!iframe && (*cue_bw as f64) > *scan_bw as f64 * 1.7) {
                bad.push(format!("{file}: bandwidth {cue_bw} from Cues vs {scan_bw} measured by the scan: {x}"));
            }
        }
    }
    if variants == 0 {
        bad.push(format!("{file}: no BANDWIDTH compared"));
    }
    bad
}

#[test]
fn cues_index_serves_what_a_scan_serves() {
    let mut names: Vec<&str> = WITH_CUES.to_vec();
    names.push("no_cues.mkv");
    let setup = setup(&names).expect("setup");
    let lock = FileLock::exclusive(&out_root().join(".matroska.lock")).expect("lock");
    let base = out_root().join(".matroska");
    let results = par_map(WITH_CUES, workers(), |f| -> Vec<String> {
        let cues = dump(&setup.hls_dump, f, false, &base.join(f).join("cues"));
        let scan = dump(&setup.hls_dump, f, true, &base.join(f).join("scan"));
        let (cues, scan) = match (cues, scan) {
            (Ok(c), Ok(s)) => (c, s),
            (c, s) => return vec![format!("{f}: crawl failed: {:?} {:?}", c.err(), s.err())],
        };
        let mut bad = compare(f, &cues, &scan);
        let (ci, si) = (indexed_from(&cues), indexed_from(&scan));
        if ci != "matroska cues" || si != "packet scan" {
            bad.push(format!("{f}: indexed from {ci:?} by default and {si:?} with --scan"));
        }
        bad
    });
    drop(lock);
    let bad: Vec<String> = results.into_iter().flatten().collect();
    assert!(bad.is_empty(), "{} problems:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn matroska_without_cues_is_scanned_and_serves_the_same_segments() {
    let setup = setup(&["h264_aac.mkv", "no_cues.mkv"]).expect("setup");
    let lock = FileLock::exclusive(&out_root().join(".matroska-nocues.lock")).expect("lock");
    let base = out_root().join(".matroska-nocues");
    let no_cues = dump(&setup.hls_dump, "no_cues.mkv", false, &base.join("no_cues")).expect("no_cues.mkv");
    let with_cues = dump(&setup.hls_dump, "h264_aac.mkv", false, &base.join("h264_aac")).expect("h264_aac.mkv");
    drop(lock);
    assert_eq!(indexed_from(&no_cues), "packet scan");
    assert_eq!(indexed_from(&with_cues), "matroska cues");
    // The same packets in both files (one muxed through a pipe): the same media segments.
    let segments: Vec<&String> = no_cues.keys().filter(|n| n.ends_with(".m4s")).collect();
    assert!(segments.len() >= 10, "{segments:?}");
    for n in segments {
        assert_eq!(no_cues[n], with_cues[n], "{n}");
    }
}

/// `ffmpeg -c copy -f framemd5` of a presentation's audio: every packet's time, size and hash.
fn audio_packets(master: &Path) -> String {
    let out = run_ok(
        Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(master)
            .args(["-map", "0:a", "-c", "copy", "-f", "framemd5", "-"]),
    )
    .expect("ffmpeg framemd5");
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n")
}

#[test]
fn audio_only_matroska_is_cut_on_its_cues_and_serves_the_scans_packets() {
    // Cut on the audio track's Cues (one per cluster), not on frames as the scan cuts it: the
    // playlists differ, the packets served must not.
    let setup = setup(&["audio_only.mka"]).expect("setup");
    let lock = FileLock::exclusive(&out_root().join(".matroska-audio.lock")).expect("lock");
    let base = out_root().join(".matroska-audio");
    let cues = dump(&setup.hls_dump, "audio_only.mka", false, &base.join("cues")).expect("cues");
    let scan = dump(&setup.hls_dump, "audio_only.mka", true, &base.join("scan")).expect("scan");
    assert_eq!(indexed_from(&cues), "matroska cues");
    assert_eq!(indexed_from(&scan), "packet scan");
    assert!(cues.keys().filter(|n| n.ends_with(".m4s")).count() >= 3, "{:?}", cues.keys());
    let (a, b) = (audio_packets(&base.join("cues/master.m3u8")), audio_packets(&base.join("scan/master.m3u8")));
    drop(lock);
    assert!(a.lines().count() > 900, "{} packets", a.lines().count());
    assert!(a == b, "the packets served differ between the Cue-indexed and the scanned presentation");
}

#[test]
fn damaged_matroska_never_crashes_or_hangs() {
    // Seeded damage: random bytes inside clusters, inside the Cues at the end, and truncation.
    // Every crawl must end by itself with success or a clear error (exit 1), never a signal.
    let setup = setup(&["multi_audio.mkv"]).expect("setup");
    let lock = FileLock::exclusive(&out_root().join(".matroska-damage.lock")).expect("lock");
    let base = out_root().join(".matroska-damage");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("mkdir");
    let src = std::fs::read(media_dir().join("multi_audio.mkv")).expect("read");
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rand = |n: usize| -> usize {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let cases: Vec<Vec<u8>> = (0..30)
        .map(|i| {
            let mut d = src.clone();
            match i % 3 {
                0 => {
                    let at = rand(d.len() - 512);
                    let n = [1, 8, 64, 512][rand(4)];
                    (0..n).for_each(|k| d[at + k] = rand(256) as u8);
                }
                1 => {
                    let at = d.len() * 95 / 100 + rand(d.len() / 20 - 16);
                    (0..16).for_each(|k| d[at + k] = rand(256) as u8);
                }
                _ => d.truncate(d.len() / 2 + rand(d.len() / 2)),
            }
            d
        })
        .collect();
    let results = par_map(&cases.iter().enumerate().collect::<Vec<_>>(), workers(), |(i, data)| -> Option<String> {
        let file = base.join(format!("damaged_{i}.mkv"));
        if let Err(e) = std::fs::write(&file, data) {
            return Some(format!("case {i}: write: {e}"));
        }
        let out = run(Command::new("timeout")
            .arg("120")
            .arg(&setup.hls_dump)
            .arg(&file)
            .arg(base.join(format!("out_{i}")))
            .env("LD_LIBRARY_PATH", root().join("target/release")));
        let out = match out {
            Ok(o) => o,
            Err(e) => return Some(format!("case {i}: {e}")),
        };
        match out.status.code() {
            Some(0) => None,
            Some(1) if String::from_utf8_lossy(&out.stderr).contains("HLS_ERR_") => None,
            other => Some(format!("case {i}: exit {other:?}: {}", String::from_utf8_lossy(&out.stderr).trim())),
        }
    });
    drop(lock);
    let bad: Vec<String> = results.into_iter().flatten().collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

//! Subtitles through the C API (hls-dump): every text track's WebVTT equals FFmpeg's own
//! conversion cue for cue (SRT, ASS, mov_text), each WebVTT segment holds exactly the cues that
//! overlap its time span with their full times, every WebVTT document ends with a blank line (after
//! its last cue: GStreamer loses a cue the document ends in), and the master names the renditions.

mod common;

use std::path::Path;
use std::process::Command;

/// (file, subtitle stream index in the file, its index among subtitle streams)
const CASES: &[(&str, usize, usize)] = &[
    ("multi_audio.mkv", 4, 0),  // SRT
    ("multi_audio.mkv", 5, 1),  // ASS
    ("subs.mp4", 2, 0),         // mov_text
    ("offset_start.mkv", 2, 0), // SRT, video starting at 10 s
];

#[derive(Debug, Clone, PartialEq)]
struct Cue {
    start: f64,
    end: f64,
    text: String,
}

fn vtt_time(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (h.parse::<f64>().ok()?, m.parse::<f64>().ok()?, s.parse::<f64>().ok()?),
        [m, s] => (0.0, m.parse::<f64>().ok()?, s.parse::<f64>().ok()?),
        _ => return None,
    };
    Some(h * 3600.0 + m * 60.0 + sec)
}

/// Cues of a WebVTT document (header blocks skipped), text with entities decoded.
fn parse_vtt(doc: &str) -> Vec<Cue> {
    let mut cues = Vec::new();
    for block in doc.replace("\r\n", "\n").split("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        let Some(at) = lines.iter().position(|l| l.contains("-->")) else { continue };
        let mut it = lines[at].split("-->");
        let (Some(a), Some(b)) = (it.next(), it.next()) else { continue };
        let b = b.split_whitespace().next().unwrap_or("");
        let (Some(start), Some(end)) = (vtt_time(a), vtt_time(b)) else { continue };
        let text = lines[at + 1..].join("\n").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
        cues.push(Cue { start, end, text });
    }
    cues
}

fn ffmpeg_cues(src: &Path, sub_index: usize) -> Vec<Cue> {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-copyts", "-i"])
        .arg(src)
        .args(["-map", &format!("0:s:{sub_index}"), "-f", "webvtt", "-"])
        .output()
        .expect("ffmpeg");
    assert!(o.status.success(), "ffmpeg webvtt conversion of {} failed", src.display());
    parse_vtt(&String::from_utf8_lossy(&o.stdout))
}

/// Fetches one name through the C API (the exported `hls_*` functions), as a C caller would:
/// `tN.vtt` is named by no playlist, so hls-dump does not fetch it.
fn fetch_c_api(src: &Path, name: &str) -> String {
    use hls::ffi::*;
    use std::ffi::CString;
    let path = CString::new(src.display().to_string()).expect("path");
    let name = CString::new(name).expect("name");
    // SAFETY: every pointer passed is valid for the call; the buffer is freed by the library.
    unsafe {
        let ctx = hls_context_new(std::ptr::null());
        assert!(!ctx.is_null());
        let mut media = std::ptr::null_mut();
        assert_eq!(hls_open(ctx, path.as_ptr(), &mut media), HlsStatus::HLS_OK);
        let mut buf = HlsBuffer {
            data: std::ptr::null(),
            len: 0,
            content_type: std::ptr::null(),
            _private: std::ptr::null_mut(),
        };
        assert_eq!(hls_segment(media, name.as_ptr(), &mut buf), HlsStatus::HLS_OK, "{name:?}");
        assert_eq!(std::ffi::CStr::from_ptr(buf.content_type).to_str(), Ok("text/vtt"));
        let text = String::from_utf8_lossy(std::slice::from_raw_parts(buf.data, buf.len)).into_owned();
        hls_free_buffer(&mut buf);
        hls_close(media);
        hls_context_free(ctx);
        text
    }
}

#[test]
fn webvtt_matches_ffmpeg_and_segments_hold_every_overlapping_cue() {
    let files: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    common::ensure_media(&files).expect("media");
    let setup = common::build_c_programs().expect("C programs");
    let mut failures = Vec::new();
    let mut cues_checked = 0;
    for &(file, stream, sub_index) in CASES {
        let src = common::media_dir().join(file);
        let out = common::out_root().join("subtitles").join(file);
        let _ = std::fs::remove_dir_all(&out);
        let st = Command::new(&setup.hls_dump).arg(&src).arg(&out).status().expect("hls-dump");
        assert!(st.success(), "hls-dump {file} failed");
        let master = std::fs::read_to_string(out.join("master.m3u8")).expect("master");
        let uri = format!("URI=\"t{stream}.m3u8\"");
        if !master
            .lines()
            .any(|l| l.starts_with("#EXT-X-MEDIA:TYPE=SUBTITLES") && l.contains(&uri) && l.contains("NAME="))
        {
            failures.push(format!("{file}: master has no SUBTITLES rendition for t{stream}"));
        }
        // Whole-track WebVTT vs FFmpeg's conversion, cue for cue.
        let full = fetch_c_api(&src, &format!("t{stream}.vtt"));
        // A blank line after the last cue: GStreamer's WebVTT parser drops a cue the file ends in.
        if !full.ends_with("\n\n") {
            failures.push(format!("{file} t{stream}.vtt: the last cue is not followed by a blank line"));
        }
        let ours = parse_vtt(&full);
        let theirs = ffmpeg_cues(&src, sub_index);
        if ours.len() != theirs.len() || theirs.is_empty() {
            failures.push(format!("{file} t{stream}: {} cues vs FFmpeg's {}", ours.len(), theirs.len()));
        }
        for (a, b) in ours.iter().zip(&theirs) {
            if (a.start - b.start).abs() > 0.0015 || (a.end - b.end).abs() > 0.0015 || a.text != b.text {
                failures.push(format!("{file} t{stream}: cue {a:?} differs from FFmpeg's {b:?}"));
            }
            cues_checked += 1;
        }
        // Segments: exactly the cues overlapping each segment's span, full times kept.
        let playlist = std::fs::read_to_string(out.join(format!("t{stream}.m3u8"))).expect("playlist");
        let mut t0 = None;
        let mut spans = Vec::new();
        let mut acc = 0.0;
        let mut pending = None;
        for l in playlist.lines() {
            if let Some(d) = l.strip_prefix("#EXTINF:") {
                pending = d.trim_end_matches(',').parse::<f64>().ok();
            } else if !l.starts_with('#') && !l.is_empty() {
                let d = pending.take().expect("EXTINF before URI");
                spans.push((l.to_string(), acc, acc + d));
                acc += d;
            }
        }
        // Presentation start of the video: segment 0 of the subtitle playlist starts there.
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("info.json")).expect("info")).expect("json");
        let _ = &info;
        let vfirst = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=start_time", "-of", "csv=p=0"])
            .arg(&src)
            .output()
            .expect("ffprobe");
        if let Ok(v) = String::from_utf8_lossy(&vfirst.stdout).trim().parse::<f64>() {
            t0 = Some(v);
        }
        let t0 = t0.expect("video start time");
        let n = spans.len();
        for (k, (name, a, b)) in spans.iter().enumerate() {
            let doc = std::fs::read_to_string(out.join(name)).expect("segment");
            if !doc.starts_with("WEBVTT") || !doc.contains("X-TIMESTAMP-MAP=MPEGTS:") {
                failures.push(format!("{file} {name}: no WEBVTT header with X-TIMESTAMP-MAP"));
            }
            let got = parse_vtt(&doc);
            if !doc.ends_with("\n\n") {
                failures.push(format!("{file} {name}: the last cue is not followed by a blank line"));
            }
            // The first/last segments also hold cues before/after the video.
            let (lo, hi) = (if k == 0 { f64::MIN } else { t0 + a }, if k + 1 == n { f64::MAX } else { t0 + b });
            let want: Vec<&Cue> = ours.iter().filter(|c| c.end > lo + 0.0005 && c.start < hi - 0.0005).collect();
            if got.len() != want.len() || got.iter().zip(&want).any(|(g, w)| g != *w) {
                failures.push(format!("{file} {name} [{lo:.3},{hi:.3}): cues {got:?}, expected {want:?}"));
            }
        }
    }
    // A cue spanning a boundary appears in both segments (multi_audio.mkv has one at 5.0-7.5 s).
    let seg = |n: usize| {
        std::fs::read_to_string(common::out_root().join("subtitles/multi_audio.mkv").join(format!("t4_{n}.vtt")))
            .unwrap_or_default()
    };
    if !(seg(0).contains("spans the 6 second boundary") && seg(1).contains("spans the 6 second boundary")) {
        failures.push("multi_audio.mkv: the cue spanning the 6 s boundary is not in both segments 0 and 1".into());
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
    assert!(cues_checked >= 10, "only {cues_checked} cues compared");
}

/// Text subtitle tracks whose cues are read on first use (MP4 sample tables; the Cues of
/// FFmpeg's and mkvmerge's Matroska files): the open reads none of their blocks, and the cues
/// read at the first WebVTT request are exactly the ones a Matroska packet scan extracts while
/// it indexes (`use_container_index` off), read once however many threads ask at once.
#[test]
fn cues_read_on_first_use_are_the_cues_a_scan_extracts_and_are_read_once() {
    use hls::model::track::Delivery;
    let files =
        ["subs.mp4", "multi_audio.mkv", "offset_start.mkv", "mkvmerge_subs.mkv", "subs_outlast.mkv", "roles.mkv"];
    common::ensure_media(&files).expect("media");
    let lazy = hls::Context::new(hls::Config { cache_bytes: 0, ..hls::Config::default() });
    let scan = hls::Context::new(hls::Config { cache_bytes: 0, use_container_index: false, ..hls::Config::default() });
    let (mut deferred, mut compared, mut eager) = (Vec::new(), 0, 0);
    for file in files {
        let src = common::media_dir().join(file);
        let m = lazy.open(&src).expect("open");
        let s = scan.open(&src).expect("open with a scan");
        for t in &m.index.tracks {
            let Delivery::Cues(cues) = &t.delivery else { continue };
            let Some(Delivery::Cues(scanned)) = s.index.tracks.iter().find(|x| x.id == t.id).map(|x| &x.delivery)
            else {
                panic!("{file}: stream {} has no cues in the scanned index", t.stream)
            };
            // (A Matroska scan extracts them while it indexes; an MP4 is read from its sample
            // tables either way: its cues are held against FFmpeg's by the test above.)
            if scanned.loaded().is_some() {
                eager += 1;
            } else {
                scan.get(&s, &format!("t{}.vtt", t.stream)).expect("whole-track WebVTT of the scan");
            }
            if cues.loaded().is_none() {
                deferred.push(format!("{file} t{}", t.stream));
                // Eight threads ask for the track at once: one read, the same answer for all.
                let name = format!("t{}.vtt", t.stream);
                let answers: Vec<Vec<u8>> = std::thread::scope(|sc| {
                    let joins: Vec<_> = (0..8)
                        .map(|_| sc.spawn(|| lazy.get(&m, &name).expect("whole-track WebVTT").0.to_vec()))
                        .collect();
                    joins.into_iter().map(|j| j.join().expect("thread")).collect()
                });
                assert!(answers.windows(2).all(|w| w[0] == w[1]), "{file} {name}: threads got different cues");
            }
            let (Some(read), Some(want)) = (cues.loaded(), scanned.loaded()) else {
                panic!("{file}: stream {}: cues not read after a WebVTT request", t.stream)
            };
            assert!(!want.is_empty(), "{file}: stream {} has no cues", t.stream);
            assert_eq!(read.cues(), want.cues(), "{file}: stream {}: cues read on first use differ", t.stream);
            compared += 1;
        }
    }
    println!("cues read on first use: {deferred:?}; {compared} tracks compared, {eager} with cues a scan extracted");
    assert!(deferred.iter().any(|d| d.starts_with("subs.mp4")), "an MP4's cues were read at the open: {deferred:?}");
    assert!(
        deferred.iter().any(|d| d.contains(".mkv")),
        "no Matroska file's cues were read on first use: {deferred:?}"
    );
    assert!(compared >= files.len(), "{compared} tracks compared");
    assert!(eager >= files.len() - 1, "{eager} tracks compared with cues extracted while indexing");
}

/// A file rewritten after the open, before its cues were first read: the WebVTT request is
/// refused as for any other read of a changed file (`FileChanged`), never answered with cues of
/// the new bytes, and a new open serves them.
#[test]
fn cues_read_on_first_use_from_a_file_changed_since_the_open_are_refused() {
    use hls::model::track::Delivery;
    common::ensure_media(&["subs.mp4", "multi_audio.mkv"]).expect("media");
    let dir = common::out_root().join("subtitles-changed");
    std::fs::create_dir_all(&dir).expect("scratch");
    for (file, stream) in [("subs.mp4", 2), ("multi_audio.mkv", 4)] {
        let copy = dir.join(file);
        std::fs::copy(common::media_dir().join(file), &copy).expect("copy");
        let ctx = hls::Context::new(hls::Config { cache_bytes: 0, ..hls::Config::default() });
        let m = ctx.open(&copy).expect("open");
        let t = m.index.tracks.iter().find(|t| t.stream == stream).expect("subtitle track");
        let Delivery::Cues(cues) = &t.delivery else { panic!("{file}: stream {stream} is not served as cues") };
        assert!(cues.loaded().is_none(), "{file}: stream {stream}: cues read at the open");
        // Rewritten in place: one more byte at the end.
        let mut bytes = std::fs::read(&copy).expect("read");
        bytes.push(0);
        std::fs::write(&copy, &bytes).expect("rewrite");
        let err = ctx.get(&m, &format!("t{stream}.vtt")).expect_err("cues of a changed file");
        assert_eq!(err.kind, hls::ErrorKind::FileChanged, "{file}: {err}");
        assert!(cues.loaded().is_none(), "{file}: cues kept from a changed file");
        let again = ctx.open(&copy).expect("open again");
        let vtt = ctx.get(&again, &format!("t{stream}.vtt")).expect("WebVTT after a new open").0;
        assert!(String::from_utf8_lossy(&vtt).contains("-->"), "{file}: no cue after a new open");
    }
}

//! Scrubbing thumbnails: `thumb_<ms>.jpg` (the keyframe at or before that time), the WebVTT
//! thumbnail track `thumbnails.vtt` and its sprite sheets `thumbs_<k>.jpg`.
//!
//! Pictures are checked against FFmpeg's own: FFmpeg decodes the source at the keyframe the
//! thumbnail should show (autorotating a phone video by its display matrix, as players do), both
//! pictures are scaled to the same small grey image and their mean absolute difference (MAD, in
//! 8-bit levels) must stay below [`SAME_PICTURE_MAD`]. The test sources are FFmpeg's `testsrc2`
//! (a moving gradient line, moving squares and a running frame counter) and `testsrc` (a sweeping
//! circle sector and a counter), so a picture from another time differs clearly: each picture
//! test also compares against FFmpeg's picture one second later and requires that to fail.

mod common;
mod web;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hls::model::thumbs::ThumbSettings;
use hls::{Config, Context, ErrorKind};

/// Grey levels (0..255) of mean absolute difference below which two 80-px-wide pictures are the
/// same picture. Measured on these sources: the thumbnail or tile against FFmpeg's picture of its
/// keyframe differs by 0.5–1.3 (JPEG coding at quality scale 5, two scalers, the anamorphic and
/// rotated ones scaled twice); against FFmpeg's picture one second later by 5.3–15.8 (the line,
/// squares and counter moved). 3 is 2.3x the worst match and 1.8x below the closest miss.
const SAME_PICTURE_MAD: f64 = 3.0;

/// Width of the grey images compared.
const COMPARE_WIDTH: u32 = 80;

const FILES: &[&str] = &[
    "h264_aac.mp4",
    "h264_aac.mkv",
    "h264_aac.ts",
    "phone_rotated.mp4",
    "anamorphic.mp4",
    "anamorphic.mkv",
    "anamorphic.ts",
    "audio_only.m4a",
    "vp9_opus.webm",
    "hevc_aac.mp4",
    "looped_4min.mkv",
];

fn media(file: &str) -> PathBuf {
    ensure_media(FILES).expect("test media");
    media_dir().join(file)
}

fn context(width: u32, interval_ms: u32) -> Context {
    Context::new(Config { thumbnails: ThumbSettings { width, interval_ms }, ..Config::default() })
}

fn serve(ctx: &Context, file: &str, name: &str) -> Result<(Vec<u8>, &'static str), hls::Error> {
    let m = ctx.open(&media(file))?;
    ctx.get(&m, name).map(|(b, ct)| (b.to_vec(), ct))
}

/// Writes `bytes` to a scratch file named after the test and the resource.
fn scratch(tag: &str, bytes: &[u8]) -> PathBuf {
    let dir = out_root().join("thumbnails");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let p = dir.join(format!("{}-{tag}", std::process::id()));
    std::fs::write(&p, bytes).expect("scratch file");
    p
}

/// Width and height of a picture file, as FFmpeg decodes it.
fn picture_size(path: &Path) -> (u32, u32) {
    let out = run_ok(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=width,height,codec_name"])
            .args(["-of", "csv=p=0"])
            .arg(path),
    )
    .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.trim().split(',').collect();
    assert_eq!(f[0], "mjpeg", "{}: not a JPEG: {text}", path.display());
    (f[1].parse().expect("width"), f[2].parse().expect("height"))
}

/// One picture as grey levels at `w`×`h`: of a picture file (`seek` None; `crop` = x, y, w, h
/// of the part to take) or of a video at `seek` seconds (FFmpeg's accurate seek, autorotated).
fn grey(input: &Path, seek: Option<f64>, crop: Option<(u32, u32, u32, u32)>, w: u32, h: u32) -> Vec<u8> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-nostdin"]);
    if let Some(s) = seek {
        cmd.args(["-ss", &format!("{:.6}", s.max(0.0))]);
    }
    let mut filter = String::new();
    if let Some((x, y, cw, ch)) = crop {
        filter.push_str(&format!("crop={cw}:{ch}:{x}:{y},"));
    }
    filter.push_str(&format!("scale={w}:{h}:flags=area,format=gray"));
    cmd.arg("-i").arg(input).args(["-frames:v", "1", "-vf", &filter, "-f", "rawvideo", "-"]);
    let out = run_ok(&mut cmd).expect("ffmpeg");
    assert_eq!(out.stdout.len(), (w * h) as usize, "{}: ffmpeg gave no {w}x{h} picture", input.display());
    out.stdout
}

fn mad(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (i32::from(*x) - i32::from(*y)).unsigned_abs() as f64).sum::<f64>() / a.len() as f64
}

/// Presentation times (s, from the first video picture) of the video keyframes, sorted.
fn keyframes(path: &Path) -> Vec<f64> {
    let probe = ffprobe(path).expect("ffprobe");
    let v = probe.streams.iter().find(|s| s.codec_type == "video").expect("a video stream");
    let first = v.presented().map(|p| p.pts.unwrap()).min().expect("pictures");
    let mut k: Vec<f64> = v.presented().filter(|p| p.key).map(|p| v.secs(p.pts.unwrap() - first)).collect();
    k.sort_by(f64::total_cmp);
    k
}

/// The keyframe shown at `t` seconds: the last one at or before it.
fn keyframe_at(keys: &[f64], t: f64) -> f64 {
    keys.iter().copied().rfind(|k| *k <= t + 1e-6).unwrap_or(keys[0])
}

/// FFmpeg's picture at `t` seconds (`t` just before the keyframe time, so that the accurate
/// seek keeps the keyframe itself).
fn reference(path: &Path, t: f64, w: u32, h: u32) -> Vec<u8> {
    grey(path, Some(t - 0.001), None, w, h)
}

/// Compares `thumb_<ms>.jpg` of `file` with FFmpeg's picture at the keyframe it should show and
/// one second later; returns (MAD right, MAD wrong).
fn thumbnail_against_ffmpeg(ctx: &Context, file: &str, ms: u64, size: (u32, u32)) -> (f64, f64) {
    let (jpeg, ct) = serve(ctx, file, &format!("thumb_{ms}.jpg")).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(ct, "image/jpeg");
    let path = scratch(&format!("{file}-{ms}.jpg"), &jpeg);
    assert_eq!(picture_size(&path), size, "{file} thumb_{ms}.jpg size");
    let (w, h) = (COMPARE_WIDTH, COMPARE_WIDTH * size.1 / size.0);
    let ours = grey(&path, None, None, w, h);
    let src = media(file);
    let key = keyframe_at(&keyframes(&src), ms as f64 / 1000.0);
    let right = mad(&ours, &reference(&src, key, w, h));
    let wrong = mad(&ours, &reference(&src, key + 1.0, w, h));
    (right, wrong)
}

#[test]
fn thumbnail_shows_the_keyframe_at_or_before_its_time() {
    let ctx = context(320, 10_000);
    for file in ["h264_aac.mp4", "h264_aac.mkv", "h264_aac.ts", "hevc_aac.mp4", "vp9_opus.webm"] {
        for ms in [0, 3_000, 14_000, 7_777] {
            if file == "vp9_opus.webm" && ms > 8_000 {
                continue; // 10 s long, the last second has no picture one second later
            }
            let (right, wrong) = thumbnail_against_ffmpeg(&ctx, file, ms, (320, 180));
            assert!(right < SAME_PICTURE_MAD, "{file} thumb_{ms}.jpg is not FFmpeg's keyframe picture: MAD {right:.2}");
            assert!(wrong > SAME_PICTURE_MAD, "{file} at {ms} ms: one second later would pass too (MAD {wrong:.2})");
        }
    }
}

#[test]
fn phone_video_is_not_sideways() {
    // Stored 320x180 with a 90° display matrix: shown 180x320, so 320 wide is 568 high.
    let ctx = context(320, 10_000);
    let (right, wrong) = thumbnail_against_ffmpeg(&ctx, "phone_rotated.mp4", 2_000, (320, 568));
    assert!(right < SAME_PICTURE_MAD, "phone thumbnail is not FFmpeg's upright picture: MAD {right:.2}");
    assert!(wrong > SAME_PICTURE_MAD, "phone: one second later would pass too (MAD {wrong:.2})");
}

#[test]
fn anamorphic_dvd_rip_is_widescreen() {
    // 720x576 with 64:45 pixels (pasp, Matroska DisplayWidth, or only the SPS VUI in MPEG-TS):
    // shown 1024x576, so 320x180.
    let ctx = context(320, 10_000);
    for file in ["anamorphic.mp4", "anamorphic.mkv", "anamorphic.ts"] {
        let (right, wrong) = thumbnail_against_ffmpeg(&ctx, file, 4_000, (320, 180));
        assert!(right < SAME_PICTURE_MAD, "{file}: MAD {right:.2}");
        assert!(wrong > SAME_PICTURE_MAD, "{file}: one second later would pass too (MAD {wrong:.2})");
    }
    let small = context(100, 10_000);
    let (jpeg, _) = serve(&small, "anamorphic.mkv", "thumb_0.jpg").expect("thumb");
    assert_eq!(picture_size(&scratch("anamorphic-100.jpg", &jpeg)), (100, 56), "configured width, 16:9");
}

/// The thumbnail track's cues: (start s, end s, sheet name, x, y, w, h).
type Cue = (f64, f64, String, u32, u32, u32, u32);

fn parse_thumbnail_track(vtt: &str) -> Vec<Cue> {
    assert!(vtt.starts_with("WEBVTT\n"), "no WEBVTT header");
    let secs = |s: &str| -> f64 {
        let p: Vec<f64> = s.split(':').map(|x| x.parse().expect("timestamp")).collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2]
    };
    let mut cues = Vec::new();
    let lines: Vec<&str> = vtt.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if let Some((a, b)) = l.split_once(" --> ") {
            let text = lines[i + 1];
            let (uri, frag) = text.split_once("#xywh=").expect("#xywh= fragment");
            let v: Vec<u32> = frag.split(',').map(|x| x.parse().expect("xywh")).collect();
            assert_eq!(v.len(), 4, "{text}");
            cues.push((secs(a), secs(b), uri.to_string(), v[0], v[1], v[2], v[3]));
        }
    }
    cues
}

#[test]
fn thumbnail_track_covers_the_film_without_gaps_and_tiles_lie_inside_their_sheets() {
    let ctx = context(160, 1_000);
    for file in ["h264_aac.mp4", "phone_rotated.mp4", "h264_aac.mkv"] {
        let m = ctx.open(&media(file)).expect("open");
        let info: serde_json::Value = serde_json::from_str(&m.info_json()).expect("info");
        let duration = info["duration"].as_f64().expect("duration");
        assert_eq!(info["thumbnails"]["track"], "thumbnails.vtt", "{file}: info names the track");
        let (vtt, ct) = ctx.get(&m, "thumbnails.vtt").expect("thumbnails.vtt");
        assert_eq!(ct, "text/vtt");
        let cues = parse_thumbnail_track(std::str::from_utf8(&vtt).expect("utf-8"));
        assert!(!cues.is_empty());
        assert_eq!(cues[0].0, 0.0, "{file}: first cue starts at 0");
        for w in cues.windows(2) {
            assert_eq!(w[0].1, w[1].0, "{file}: gap or overlap between cues {:?} and {:?}", w[0], w[1]);
        }
        let end = cues.last().unwrap().1;
        assert!((end - duration).abs() < 0.1, "{file}: cues end at {end}, the film at {duration}");
        let mut sheets = std::collections::BTreeMap::new();
        for c in &cues {
            assert!(c.2.starts_with("thumbs_") && !c.2.contains('/'), "{file}: sprite URI {} beside master.m3u8", c.2);
            let size = *sheets.entry(c.2.clone()).or_insert_with(|| {
                let (jpeg, ct) = ctx.get(&m, &c.2).unwrap_or_else(|e| panic!("{file} {}: {e}", c.2));
                assert_eq!(ct, "image/jpeg");
                picture_size(&scratch(&format!("{file}-{}", c.2), &jpeg))
            });
            assert!(c.3 + c.5 <= size.0 && c.4 + c.6 <= size.1, "{file}: tile {c:?} outside its {size:?} sheet");
        }
        assert_eq!(sheets.len() as u64, info["thumbnails"]["sheets"].as_u64().unwrap());
    }
}

#[test]
fn sprite_tiles_show_the_picture_of_their_cue() {
    // h264_aac.mp4: 30 s of testsrc2 then testsrc, irregular GOPs; a tile every 2 s.
    let ctx = context(160, 2_000);
    let file = "h264_aac.mp4";
    let src = media(file);
    let keys = keyframes(&src);
    let (vtt, _) = serve(&ctx, file, "thumbnails.vtt").expect("vtt");
    let cues = parse_thumbnail_track(std::str::from_utf8(&vtt).unwrap());
    assert_eq!(cues.len(), 15);
    let (sheet, _) = serve(&ctx, file, "thumbs_0.jpg").expect("sheet");
    let sheet = scratch("tiles-sheet.jpg", &sheet);
    let (mut worst_right, mut best_wrong) = (0f64, f64::MAX);
    for c in &cues {
        let (w, h) = (COMPARE_WIDTH, COMPARE_WIDTH * c.6 / c.5);
        let tile = grey(&sheet, None, Some((c.3, c.4, c.5, c.6)), w, h);
        let key = keyframe_at(&keys, c.0);
        let right = mad(&tile, &reference(&src, key, w, h));
        let wrong = mad(&tile, &reference(&src, key + 1.0, w, h));
        assert!(right < SAME_PICTURE_MAD, "tile at {}s is not FFmpeg's keyframe at {key}s: MAD {right:.2}", c.0);
        assert!(wrong > SAME_PICTURE_MAD, "tile at {}s also matches {}s: MAD {wrong:.2}", c.0, key + 1.0);
        worst_right = worst_right.max(right);
        best_wrong = best_wrong.min(wrong);
    }
    eprintln!("tiles: worst MAD against the right picture {worst_right:.2}, best against a wrong one {best_wrong:.2}");
}

#[test]
fn audio_only_media_has_no_thumbnails() {
    let ctx = context(320, 10_000);
    for name in ["thumb_0.jpg", "thumbnails.vtt", "thumbs_0.jpg"] {
        let e = serve(&ctx, "audio_only.m4a", name).expect_err("audio has no thumbnails");
        assert_eq!(e.kind, ErrorKind::NotFound, "{name}");
        assert!(e.message.contains("audio only"), "{name}: unclear message: {e}");
    }
    let m = ctx.open(&media("audio_only.m4a")).unwrap();
    let info: serde_json::Value = serde_json::from_str(&m.info_json()).unwrap();
    assert!(info["thumbnails"].is_null(), "info offers no thumbnail track");
}

#[test]
fn thumbnails_past_the_end_are_not_found() {
    let ctx = context(320, 10_000);
    // h264_aac.mp4 lasts 30 s: 3 tiles, 1 sheet.
    serve(&ctx, "h264_aac.mp4", "thumb_29999.jpg").expect("last millisecond");
    for name in ["thumb_30000.jpg", "thumb_999999999.jpg", "thumbs_1.jpg"] {
        let e = serve(&ctx, "h264_aac.mp4", name).expect_err("past the end");
        assert_eq!(e.kind, ErrorKind::NotFound, "{name}");
        assert!(e.message.contains("30000 ms") || e.message.contains("1 sprite sheet"), "{name}: unclear message: {e}");
    }
    let e = serve(&ctx, "h264_aac.mp4", "thumb_01.jpg").expect_err("not canonical");
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[test]
fn thumbnails_can_be_turned_off() {
    let ctx = context(0, 10_000);
    let e = serve(&ctx, "h264_aac.mp4", "thumbnails.vtt").expect_err("disabled");
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("disabled"), "{e}");
    let m = ctx.open(&media("h264_aac.mp4")).unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&m.info_json()).unwrap()["thumbnails"].is_null());
}

#[test]
fn a_storm_of_requests_for_one_sheet_generates_it_once() {
    let ctx = Arc::new(context(160, 1_000));
    let m = ctx.open(&media("h264_aac.mkv")).expect("open");
    let generations = |ctx: &Context| -> u64 {
        let v: serde_json::Value = serde_json::from_str(&ctx.stats_json()).unwrap();
        v["generations"].as_u64().unwrap()
    };
    let before = generations(&ctx);
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let bodies: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (ctx, m, barrier) = (ctx.clone(), m.clone(), barrier.clone());
                s.spawn(move || {
                    barrier.wait();
                    ctx.get(&m, "thumbs_0.jpg").expect("sheet").0.to_vec()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every request got the same sheet");
    assert_eq!(generations(&ctx) - before, 1, "8 requests for one sheet generated it once");
    let v: serde_json::Value = serde_json::from_str(&ctx.stats_json()).unwrap();
    assert!(v["cache_bytes"].as_u64().unwrap() >= bodies[0].len() as u64, "the cache is charged the sheet's size");
}

/// Files the browser test loads: MP4 (3 tiles), a portrait phone video (1 tile), and a 4-minute
/// Matroska file (24 tiles on one sheet, read through the Matroska block walk).
const BROWSER_MEDIA: &[&str] = &["h264_aac.mp4", "phone_rotated.mp4", "looped_4min.mkv"];

/// In headless Chromium (tests/browser/thumbnails.mjs): its own WebVTT parser reads
/// thumbnails.vtt, each cue's sprite sheet loads from the URI relative to the .vtt, and the tile
/// drawn into a canvas is the picture of `thumb_<cue start>.jpg` (itself checked against FFmpeg's
/// keyframe above) and not that of the next cue. `LIBHLS_SKIP_BROWSER=1` skips it.
#[test]
fn sprite_tiles_drawn_in_chromium_are_the_thumbnails_of_their_cues() {
    if std::env::var_os("LIBHLS_SKIP_BROWSER").is_some_and(|v| v != "0") {
        println!("browser test skipped (LIBHLS_SKIP_BROWSER is set)");
        return;
    }
    let prepare = || -> Result<(PathBuf, PathBuf, PathBuf), String> {
        let chromium = web::ensure_chromium()?;
        let node_dir = web::ensure_node_modules()?;
        web::ensure_files(BROWSER_MEDIA)?;
        let serve = web::ensure_hls_serve()?;
        Ok((chromium, node_dir, serve))
    };
    let (chromium, node_dir, serve) = prepare().unwrap_or_else(|e| panic!("browser test setup failed: {e}"));
    let (mut server, base) = web::Server::start(&serve, &media_dir(), node_dir.join("hls-serve-thumbnails.log"), true)
        .unwrap_or_else(|e| panic!("browser test: {e}"));
    let result = web::run_with_deadline(
        Command::new("node")
            .arg(root().join("tests/browser/thumbnails.mjs"))
            .arg(&base)
            .args(BROWSER_MEDIA)
            .env("LIBHLS_NODE_DIR", &node_dir)
            .env("LIBHLS_CHROMIUM", &chromium)
            .current_dir(root()),
        Duration::from_secs(150),
    );
    let stopped = server.stop();
    let (status, stdout, stderr) = result.unwrap_or_else(|e| panic!("browser test: {e}"));
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("--- node stderr\n{stderr}");
    }
    println!("browser test: hls-serve stopped: {stopped}");
    match status {
        None => panic!("node tests/browser/thumbnails.mjs did not finish in time (killed)"),
        Some(st) => assert!(st.success(), "node tests/browser/thumbnails.mjs failed ({st}); see the output above"),
    }
    let passed = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    assert_eq!(passed, 4 * BROWSER_MEDIA.len(), "every file's four checks ran and passed");
}

/// Bytes this thread has read through system calls so far (`rchar` of /proc/thread-self/io):
/// generation runs on the requesting thread.
fn thread_bytes_read() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").expect("/proc/thread-self/io");
    io.lines().find_map(|l| l.strip_prefix("rchar: ")).expect("rchar").trim().parse().expect("rchar value")
}

/// A sheet reads the keyframes its tiles show (MP4: those samples alone; Matroska: the segments
/// holding them, each once), found by position from the index, never by demuxing from the start.
/// Measured: h264_aac.mp4's first sheet (tiles every second, 0–25 s of 30 s) reads 11 % of the
/// file (demuxing those 25 s would read 83 %); looped_4min.mkv's first sheet (0–25 s of 240 s)
/// and its seventh (150–175 s) read 26–27 % each (the segments holding 25 s, twice over: the
/// block walk reads ahead), where demuxing up to 175 s would read 73 %.
#[test]
fn a_sprite_sheet_reads_only_the_keyframes_it_shows() {
    let read_for = |file: &str, sheet: u64| -> (u64, u64) {
        let ctx = context(160, 1_000);
        let m = ctx.open(&media(file)).expect("open");
        let size = std::fs::metadata(media(file)).unwrap().len();
        let before = thread_bytes_read();
        ctx.get(&m, &format!("thumbs_{sheet}.jpg")).expect("sheet");
        (thread_bytes_read() - before, size)
    };
    let (mp4, mp4_size) = read_for("h264_aac.mp4", 0);
    assert!(mp4 * 5 < mp4_size, "h264_aac.mp4 first sheet read {mp4} of {mp4_size} bytes: more than its keyframes");
    let (first, size) = read_for("looped_4min.mkv", 0);
    let (far, _) = read_for("looped_4min.mkv", 6);
    assert!(first * 5 < size * 2, "looped_4min.mkv first sheet read {first} of {size} bytes");
    assert!(far * 5 < size * 2, "looped_4min.mkv sheet 6 (150–175 s) read {far} of {size} bytes");
    assert!(far * 2 < first * 3, "sheet 6 read {far} bytes, sheet 0 {first}: reading grows with the position");
}

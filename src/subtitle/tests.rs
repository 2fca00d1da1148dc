//! Tests of the whole folder: the extractor against FFmpeg's own WebVTT conversion on generated
//! SRT, ASS, WebVTT (in Matroska) and mov_text (in MP4) files, style handling, and the cue lists
//! and WebVTT files made from its output.

#![deny(unsafe_code)]

use super::ass::parse_styles;
use super::vtt_text::{ass_event_to_webvtt, is_visibly_empty};
use super::*;
use crate::error::{Error, ParseError};
use crate::model::cues::{Cue, CueTrack};
use crate::output::webvtt::{render_full, render_segment, us_to_ms};
use ffmpeg_next as ffmpeg;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// (start ms, end ms, text) as read back from a WebVTT file.
type MsCue = (i64, i64, String);

/// SubRip source: italics, bold, underline, `&`, `<`, `>`, multi-line
/// cues, a cue spanning 5.0–7.5 s, odd millisecond times.
const SRT: &str = "1\n00:00:01,000 --> 00:00:02,500\n<i>Italic</i> and <b>bold</b> & more\n\n\
    2\n00:00:03,000 --> 00:00:04,200\n1 < 2 & 3 > 0\nsecond line\n\n\
    3\n00:00:05,000 --> 00:00:07,500\nSpanning cue\n\n\
    4\n00:00:08,123 --> 00:00:09,456\n<u>under</u> line one\nline two\n";

/// The drawing used in the ASS source.
const DRAWING: &str = "m 0 0 l 100 0";

/// ASS source: positioning, italics, `\N`, drawings, `\h`, a bold style,
/// `\r`, nested tags, escaping.
const ASS: &str = "[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n\
    [V4+ Styles]\n\
    Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n\
    Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\
    Style: Loud,Arial,16,&Hffffff,&Hffffff,&H0,&H0,-1,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n\
    [Events]\n\
    Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n\
    Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,{\\pos(10,10)}Positioned\n\
    Dialogue: 0,0:00:02.50,0:00:03.00,Default,,0,0,0,,{\\i1}x{\\i0} y\\Nz\n\
    Dialogue: 0,0:00:03.50,0:00:04.00,Default,,0,0,0,,before{\\p1}m 0 0 l 100 0{\\p0}after\n\
    Dialogue: 0,0:00:04.50,0:00:05.00,Loud,,0,0,0,,  loud {\\b0}not{\\r}again\n\
    Dialogue: 0,0:00:05.50,0:00:06.00,Default,,0,0,0,,{\\b1}a{\\i1}b{\\b0}c{\\i0}d\n\
    Dialogue: 1,0:00:05.50,0:00:06.00,Default,,0,0,0,,x & y <z>\n\
    Dialogue: 0,0:00:07.00,0:00:08.00,Default,,0,0,0,,{\\p1}m 0 0 l 100 0\n\
    Dialogue: 0,0:00:08.50,0:00:09.00,Default,,0,0,0,,a\\hb {\\u1}u{\\fnArial}v{\\c&H00FF00&}w\n\
    Dialogue: 0,0:00:09.50,0:01:10.00,Default,,0,0,0,,{\\i1}a{\\i1}b{\\i0}c\n";

/// WebVTT source: identifiers, settings, entities, a long cue.
const VTT: &str = "WEBVTT\n\nid1\n00:00:01.000 --> 00:00:02.000 align:start\n\
    <i>it</i> &amp; <c.red>cls</c> <v Bob>voice</v>\n\n\
    00:00:03.000 --> 01:00:04.500\nline1\nline2 <b>b</b>\n";

struct Fixtures {
    /// Stream 0: SubRip, stream 1: ASS, stream 2: WebVTT.
    mkv: PathBuf,
    /// mov_text converted from [`SRT`].
    mp4: PathBuf,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(make_fixtures)
}

const FIXTURE_PREFIX: &str = "libhls-subtitle-";

/// Removes fixture directories left by test processes that have exited.
fn remove_stale_fixture_dirs() {
    let entries = std::fs::read_dir(std::env::temp_dir());
    for entry in entries.into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(FIXTURE_PREFIX)) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn make_fixtures() -> Fixtures {
    remove_stale_fixture_dirs();
    let dir = std::env::temp_dir().join(format!("{FIXTURE_PREFIX}{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create fixture dir");
    let (srt, ass, vtt) = (dir.join("in.srt"), dir.join("in.ass"), dir.join("in.vtt"));
    std::fs::write(&srt, SRT).expect("write srt");
    std::fs::write(&ass, ASS).expect("write ass");
    std::fs::write(&vtt, VTT).expect("write vtt");
    let (mkv, mp4) = (dir.join("subs.mkv"), dir.join("subs.mp4"));
    run_ffmpeg(&[
        "-i",
        s(&srt),
        "-i",
        s(&ass),
        "-i",
        s(&vtt),
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        "-c:s:0",
        "srt",
        "-c:s:1",
        "ass",
        "-c:s:2",
        "webvtt",
        s(&mkv),
    ]);
    run_ffmpeg(&["-i", s(&srt), "-c:s", "mov_text", s(&mp4)]);
    Fixtures { mkv, mp4 }
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn run_ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-y"]).args(args).output().expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `[HH:]MM:SS.mmm` to milliseconds.
fn parse_ts(ts: &str) -> i64 {
    let (clock, ms) = ts.split_once('.').expect("ms part");
    let secs = clock.split(':').fold(0i64, |acc, part| acc * 60 + part.parse::<i64>().expect("number"));
    secs * 1000 + ms.parse::<i64>().expect("ms")
}

/// Cues of a WebVTT file (blocks after the header block).
fn parse_vtt(data: &[u8]) -> Vec<MsCue> {
    let text = String::from_utf8(data.to_vec()).expect("utf-8 webvtt");
    assert!(text.starts_with("WEBVTT\n"), "header: {text:?}");
    let mut cues = Vec::new();
    for block in text.split("\n\n").skip(1) {
        let mut lines = block.lines();
        let Some(timing) = lines.next() else { continue };
        let (a, b) = timing.split_once(" --> ").expect("timing line");
        let body: Vec<&str> = lines.collect();
        cues.push((parse_ts(a), parse_ts(b), body.join("\n")));
    }
    cues
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// `ffmpeg -copyts -i SRC -map 0:s:N -f webvtt -`, with the documented
/// deviations applied (`\h` → space, drawings removed, empty cues
/// dropped).
fn ffmpeg_reference(src: &Path, sub_index: usize) -> Vec<MsCue> {
    let map = format!("0:s:{sub_index}");
    let raw = parse_vtt(&run_ffmpeg(&["-copyts", "-i", s(src), "-map", &map, "-f", "webvtt", "-"]));
    raw.into_iter()
        .map(|(a, b, t)| (a, b, t.replace("\\h", " ").replace(DRAWING, "")))
        .filter(|(_, _, t)| !is_visibly_empty(t))
        .collect()
}

/// Runs the extractor over every packet of the Nth subtitle stream.
fn extract(src: &Path, sub_index: usize) -> CueTrack {
    let mut input = ffmpeg::format::input(src).expect("open input");
    let stream = input
        .streams()
        .filter(|st| st.parameters().medium() == ffmpeg::media::Type::Subtitle)
        .nth(sub_index)
        .expect("subtitle stream");
    let (index, params, time_base) = (stream.index(), stream.parameters(), stream.time_base());
    let mut extractor = CueExtractor::new(params, time_base).expect("extractor");
    for (st, packet) in input.packets() {
        if st.index() == index {
            extractor.push(&packet).expect("push");
        }
    }
    extractor.finish()
}

fn as_ms(track: &CueTrack) -> Vec<MsCue> {
    track.cues().iter().map(|c| (us_to_ms(c.start_us), us_to_ms(c.end_us), unescape(&c.text))).collect()
}

/// Our cues, and our rendered file read back, equal FFmpeg's.
fn assert_matches_ffmpeg(src: &Path, sub_index: usize) -> CueTrack {
    let track = extract(src, sub_index);
    let expected = ffmpeg_reference(src, sub_index);
    assert!(!expected.is_empty());
    assert_eq!(as_ms(&track), expected, "cues of {src:?} s:{sub_index}");
    let rendered: Vec<MsCue> =
        parse_vtt(&render_full(&track, 0)).into_iter().map(|(a, b, t)| (a, b, unescape(&t))).collect();
    assert_eq!(rendered, expected, "rendered {src:?} s:{sub_index}");
    track
}

fn texts(track: &CueTrack) -> Vec<&str> {
    track.cues().iter().map(|c| c.text.as_str()).collect()
}

#[test]
fn srt_in_mkv_matches_ffmpeg() {
    let track = assert_matches_ffmpeg(&fixtures().mkv, 0);
    assert_eq!(
        texts(&track),
        [
            "<i>Italic</i> and <b>bold</b> &amp; more",
            "1 &lt; 2 &amp; 3 &gt; 0\nsecond line",
            "Spanning cue",
            "<u>under</u> line one\nline two",
        ]
    );
    assert_eq!(track.cues()[2].start_us, 5_000_000);
    assert_eq!(track.cues()[2].end_us, 7_500_000);
    assert_eq!(track.cues()[3].start_us, 8_123_000);
    assert_eq!(track.cues()[3].end_us, 9_456_000);
}

#[test]
fn ass_in_mkv_matches_ffmpeg() {
    let track = assert_matches_ffmpeg(&fixtures().mkv, 1);
    assert_eq!(
        texts(&track),
        [
            "Positioned",
            "<i>x</i> y\nz",
            "beforeafter",
            "<b>loud </b>notagain",
            "<b>a<i>b</i></b>cd",
            "x &amp; y &lt;z&gt;",
            "a b <u>uvw</u>",
            "<i>a<i>b</i>c</i>",
        ]
    );
    // The drawing-only event (7.0–8.0 s) has no cue.
    assert!(track.overlapping(7_000_000, 8_000_000).next().is_none());
}

#[test]
fn webvtt_in_mkv_matches_ffmpeg() {
    let track = assert_matches_ffmpeg(&fixtures().mkv, 2);
    assert_eq!(texts(&track), ["<i>it</i> &amp; cls voice", "line1\nline2 <b>b</b>"]);
    assert_eq!(track.cues()[1].end_us, 3_604_500_000);
    let full = String::from_utf8(render_full(&track, 0)).expect("utf-8");
    assert!(full.contains("\n00:00:03.000 --> 01:00:04.500\nline1\n"), "{full}");
}

#[test]
fn mov_text_in_mp4_matches_ffmpeg() {
    let track = assert_matches_ffmpeg(&fixtures().mp4, 0);
    assert_eq!(track.len(), 4);
    assert_eq!(track.cues()[0].text, "<i>Italic</i> and <b>bold</b> &amp; more");
}

#[test]
fn segments_share_spanning_cue_and_empty_segment_is_header_only() {
    let track = extract(&fixtures().mkv, 0);
    let starts = |from: i64, to: i64| -> Vec<i64> { track.overlapping(from, to).map(|c| c.start_us).collect() };
    assert_eq!(starts(0, 6_000_000), [1_000_000, 3_000_000, 5_000_000]);
    assert_eq!(starts(6_000_000, 12_000_000), [5_000_000, 8_123_000]);
    // [start, end) semantics: the cue ending at 2.5 s and the one starting
    // at 3.0 s are both outside [2.5 s, 3.0 s).
    assert_eq!(starts(2_500_000, 3_000_000), Vec::<i64>::new());
    let empty = render_segment(&track, 2_500_000, 3_000_000, 900_000);
    assert_eq!(
        String::from_utf8(empty).expect("utf-8"),
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n\n"
    );
    let second = render_segment(&track, 6_000_000, 12_000_000, 900_000);
    assert_eq!(
        String::from_utf8(second).expect("utf-8"),
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n\n\
         00:00:05.000 --> 00:00:07.500\nSpanning cue\n\n\
         00:00:08.123 --> 00:00:09.456\n<u>under</u> line one\nline two\n\n"
    );
}

fn cue(start_us: i64, end_us: i64, text: &str) -> Cue {
    Cue { start_us, end_us, text: text.into() }
}

#[test]
fn overlap_lookup_equals_brute_force() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m) as i64
    };
    let mut cues: Vec<Cue> = (0..500)
        .map(|_| {
            let start = next(600_000_000);
            cue(start, start + 1 + next(8_000_000), "x")
        })
        .collect();
    cues.push(cue(10_000_000, 590_000_000, "whole film"));
    cues.push(cue(3_000_000, 3_000_000, "zero length"));
    cues.push(cue(4_000_000, 9_000_000, " \n"));
    let track = CueTrack::new(cues.clone());
    assert_eq!(track.len(), 501);
    assert!(track.cues().windows(2).all(|w| w[0].start_us <= w[1].start_us));
    for from in (-6_000_000..610_000_000).step_by(6_000_000) {
        let to = from + 6_000_000;
        let got: Vec<&Cue> = track.overlapping(from, to).collect();
        let want: Vec<&Cue> = track.cues().iter().filter(|c| c.start_us < to && c.end_us > from).collect();
        assert_eq!(got, want, "segment [{from}, {to})");
    }
    assert!(track.overlapping(5, 5).next().is_none());
    assert!(CueTrack::new(Vec::new()).overlapping(0, 1).next().is_none());
    assert!(track.approx_bytes() > 501 * std::mem::size_of::<Cue>());
}

#[test]
fn event_styles_from_header() {
    let styles = parse_styles(ASS);
    assert_eq!(styles.len(), 2);
    assert!(styles[1].name == "Loud" && styles[1].bold && !styles[1].italic);
    let line = r"0,0,Loud,,0,0,0,,  loud {\b0}not{\r}again";
    assert_eq!(ass_event_to_webvtt(line, &styles), "<b>loud </b>notagain");
    assert_eq!(ass_event_to_webvtt("3,0,Default,,0,0,0,,a,b", &styles), "a,b");
    assert_eq!(ass_event_to_webvtt("short", &styles), "");
    let ssa = "[V4 Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, TertiaryColour, BackColour, Bold, Italic\r\nStyle: Default,Arial,20,0,0,0,0,0,1\r\n";
    let styles = parse_styles(ssa);
    assert_eq!(ass_event_to_webvtt("0,0,,,0,0,0,,hi", &styles), "<i>hi</i>");
}

#[test]
fn thread_safety() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<CueExtractor>();
    send_sync::<CueTrack>();
    send_sync::<ParseError>();
    send_sync::<Error>();
}

#[test]
fn timestamps_are_clamped_and_rounded() {
    let track = CueTrack::new(vec![
        cue(-2_000_000, -1_000_000, "before zero"),
        cue(-500_000, 1_499_500, "clamped"),
        cue(3_723_456_789, 3_723_999_999, "late"),
    ]);
    let full = String::from_utf8(render_full(&track, 126_000)).expect("utf-8");
    assert_eq!(
        full,
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\n\
         00:00:00.000 --> 00:00:01.500\nclamped\n\n\
         01:02:03.457 --> 01:02:04.000\nlate\n\n"
    );
}

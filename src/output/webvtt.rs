//! The WebVTT writer: media segments and whole-track files from a cue list.

use std::fmt::Write as _;

use crate::model::cues::{Cue, CueTrack};
use crate::model::names::Resource;
use crate::model::thumbs::Layout;

/// One WebVTT media segment: the header
/// `WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:<mpegts>,LOCAL:00:00:00.000\n\n`, then
/// every cue overlapping `[from_us, to_us)` with its full original times
/// (`HH:MM:SS.mmm --> HH:MM:SS.mmm`), each cue followed by a blank line, the
/// last one too (the WebVTT grammar lets a file end right after its last cue,
/// but GStreamer's parser then drops that cue). `mpegts` is the 90 kHz value
/// the fMP4 timeline has at source time 0.
pub fn render_segment(track: &CueTrack, from_us: i64, to_us: i64, mpegts: u64) -> Vec<u8> {
    render(track.overlapping(from_us, to_us), mpegts)
}

/// The whole track as one WebVTT file (all cues), with the same header as
/// [`render_segment`].
pub fn render_full(track: &CueTrack, mpegts: u64) -> Vec<u8> {
    render(track.cues().iter(), mpegts)
}

/// Header plus cue blocks.
fn render<'a>(cues: impl Iterator<Item = &'a Cue>, mpegts: u64) -> Vec<u8> {
    let mut out = format!("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n\n");
    for cue in cues {
        let (start_ms, end_ms) = (us_to_ms(cue.start_us), us_to_ms(cue.end_us));
        if end_ms <= start_ms {
            continue;
        }
        write_timestamp(&mut out, start_ms);
        out.push_str(" --> ");
        write_timestamp(&mut out, end_ms);
        out.push('\n');
        out.push_str(&cue.text);
        out.push_str("\n\n");
    }
    out.into_bytes()
}

/// Microseconds to milliseconds, clamped at 0, rounded half up (as FFmpeg's
/// `av_rescale_q`).
pub(crate) fn us_to_ms(us: i64) -> i64 {
    if us <= 0 {
        0
    } else {
        us / 1000 + i64::from(us % 1000 >= 500)
    }
}

/// The WebVTT thumbnail track (the form videojs-vtt-thumbnails, Shaka's `addThumbnailsTrack` and
/// JW Player read): one cue per tile, its text the sprite sheet's name (relative to the
/// presentation, beside `master.m3u8`) and the tile's `#xywh=x,y,w,h` in pixels. Cues follow
/// each other without gaps from 0 to the end of the presentation.
pub fn render_thumbnail_track(layout: &Layout, tile: (u32, u32)) -> Vec<u8> {
    let mut out = String::from("WEBVTT\n");
    for i in 0..layout.tiles {
        let t = layout.tile(i);
        out.push('\n');
        write_timestamp(&mut out, t.start_ms as i64);
        out.push_str(" --> ");
        write_timestamp(&mut out, t.end_ms as i64);
        let _ = writeln!(
            out,
            "\n{}#xywh={},{},{},{}",
            Resource::ThumbnailSheet(t.sheet).name(),
            t.column * tile.0,
            t.row * tile.1,
            tile.0,
            tile.1
        );
    }
    out.into_bytes()
}

/// Appends `HH:MM:SS.mmm`.
fn write_timestamp(out: &mut String, ms: i64) {
    let _ = write!(out, "{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
}

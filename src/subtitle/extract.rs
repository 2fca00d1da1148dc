//! Cue extraction: [`CueExtractor`] decodes the packets of one text subtitle stream with
//! FFmpeg's subtitle decoder, converts each event to WebVTT cue text, keeps the pending cues and
//! gives open-ended ones an end when extraction finishes.

use std::ffi::CStr;

use ffmpeg_next as ffmpeg;

use ffmpeg::ffi;

use super::ass::{parse_styles, AssStyle};
use super::classify::classify;
use super::vtt_text::{ass_event_to_webvtt, is_visibly_empty, plain_text_to_webvtt};
use crate::error::{Error, ErrorKind, ParseError, ParseResult, Result};
use crate::model::cues::{Cue, CueTrack};
use crate::model::time::rescale_checked;

/// Duration given to a cue that has no duration and no later cue to end at.
const DEFAULT_OPEN_CUE_US: i64 = 5_000_000;
/// Microseconds per second.
const US_PER_SECOND: i64 = 1_000_000;
/// Microseconds per millisecond (the unit of an event's display times).
const US_PER_MS: i64 = 1000;
/// An event's `end_display_time` when the decoder does not know it.
const UNKNOWN_END_DISPLAY_TIME: u32 = u32::MAX;

/// A cue whose end may not be known yet.
#[derive(Debug)]
struct PendingCue {
    start_us: i64,
    end_us: Option<i64>,
    text: String,
}

/// Feeds subtitle packets of one stream; decodes them with FFmpeg's subtitle
/// decoder (`avcodec_decode_subtitle2`, which turns SRT/SubRip, ASS/SSA,
/// mov_text/tx3g, WebVTT into ASS events) and converts each event to WebVTT
/// text, collecting cues for [`CueExtractor::finish`].
///
/// Timing matches `ffmpeg`'s: start = packet pts (falling back to dts) plus
/// the event's `start_display_time`; the duration is the decoded event's
/// display time, which FFmpeg derives from the packet duration (in ms); with
/// neither the packet duration is used, else the cue ends at the next cue's
/// start (resolved in `finish`).
pub struct CueExtractor {
    decoder: ffmpeg::decoder::Subtitle,
    time_base: ffmpeg::Rational,
    styles: Vec<AssStyle>,
    pending: Vec<PendingCue>,
    /// Bytes the collected cues hold (their records and texts).
    bytes: u64,
    /// Most bytes the cues may hold (`u64::MAX` unless [`CueExtractor::set_limit`]).
    limit: u64,
    /// A cue was refused for the limit.
    exceeded: bool,
}

impl CueExtractor {
    /// Opens FFmpeg's decoder for a text subtitle stream whose packets use
    /// `time_base`.
    ///
    /// # Errors
    /// For bitmap codecs (PGS, VobSub, DVB, XSUB: "bitmap subtitles (PGS)
    /// cannot be converted to WebVTT") and codecs FFmpeg cannot decode, the
    /// [`ErrorKind::Unsupported`](crate::error::ErrorKind::Unsupported) error
    /// of [`classify`]; an
    /// [`ErrorKind::InvalidMedia`](crate::error::ErrorKind::InvalidMedia) one
    /// for a time base that is not positive or a decoder that fails to open.
    pub fn new(params: ffmpeg::codec::Parameters, time_base: ffmpeg::Rational) -> Result<CueExtractor> {
        classify(params.id())?;
        if time_base.numerator() <= 0 || time_base.denominator() <= 0 {
            return Err(Error::media(format!("invalid subtitle stream time base {time_base}")));
        }
        let decoder = open_decoder(params, time_base)?;
        let styles = parse_styles(&subtitle_header(&decoder));
        Ok(CueExtractor { decoder, time_base, styles, pending: Vec::new(), bytes: 0, limit: u64::MAX, exceeded: false })
    }

    /// Bounds what the collected cues may hold (the index ceiling of the open): a cue beyond it
    /// is refused and [`CueExtractor::exceeded`] says so.
    pub fn set_limit(&mut self, bytes: u64) {
        self.limit = bytes;
    }

    /// True when a cue was refused for the limit: the track's cues are incomplete.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// Decodes one packet of the stream and records its cue, if any.
    ///
    /// Packets with neither pts nor dts, empty packets (mov_text gaps) and
    /// events without visible text produce no cue.
    ///
    /// # Errors
    /// When FFmpeg cannot decode the packet (e.g. text that is not UTF-8).
    /// The extractor stays usable: the caller may skip the packet and keep
    /// pushing.
    pub fn push(&mut self, packet: &ffmpeg::Packet) -> ParseResult<()> {
        let mut decoded = DecodedSubtitle::default();
        let got = self
            .decoder
            .decode(packet, &mut decoded.0)
            .map_err(|e| ParseError::new(format!("subtitle decoding failed: {e}")))?;
        if !got {
            return Ok(());
        }
        let Some(start_us) = self.start_us(packet, &decoded.0) else {
            return Ok(());
        };
        let text = subtitle_to_webvtt(&decoded.0, &self.styles);
        if is_visibly_empty(&text) {
            return Ok(());
        }
        let end_us = self.end_us(packet, &decoded.0, start_us);
        let cost = (std::mem::size_of::<PendingCue>() + text.len()) as u64;
        if self.bytes.saturating_add(cost) > self.limit {
            self.exceeded = true;
            return Err(ParseError::refuse(
                ErrorKind::Unsupported,
                format!("subtitle cues over the {} MiB index ceiling (max_index_bytes)", self.limit >> 20),
            ));
        }
        self.bytes += cost;
        self.pending.push(PendingCue { start_us, end_us, text });
        Ok(())
    }

    /// When the last cue collected so far ends (or starts, when its end is not known yet), in
    /// microseconds of the source timeline.
    pub fn last_time_us(&self) -> Option<i64> {
        self.pending.iter().map(|c| c.end_us.unwrap_or(c.start_us)).max()
    }

    /// Number of cues collected so far.
    pub fn cue_count(&self) -> usize {
        self.pending.len()
    }

    /// Ends extraction; a last cue without duration lasts 5 s.
    pub fn finish(self) -> CueTrack {
        CueTrack::new(resolve_open_ends(self.pending, None))
    }

    /// Ends extraction; a last cue without duration ends at `media_end_us`
    /// (the end of the media), or lasts 5 s if that is not after its start.
    pub fn finish_with_media_end(self, media_end_us: i64) -> CueTrack {
        CueTrack::new(resolve_open_ends(self.pending, Some(media_end_us)))
    }

    /// Cue start in µs: the decoder's pts (packet pts), else the packet dts,
    /// plus the event's start offset.
    fn start_us(&self, packet: &ffmpeg::Packet, sub: &ffmpeg::Subtitle) -> Option<i64> {
        let base = match sub.pts() {
            Some(pts) => pts,
            None => ticks_to_us(packet.dts()?, self.time_base),
        };
        Some(base.saturating_add(i64::from(sub.start()) * US_PER_MS))
    }

    /// Cue end in µs, `None` when the event has no known duration.
    fn end_us(&self, packet: &ffmpeg::Packet, sub: &ffmpeg::Subtitle, start_us: i64) -> Option<i64> {
        let (shown, hidden) = (sub.start(), sub.end());
        if hidden != UNKNOWN_END_DISPLAY_TIME && hidden > shown {
            return Some(start_us.saturating_add(i64::from(hidden - shown) * US_PER_MS));
        }
        let duration = packet.duration();
        (duration > 0).then(|| start_us.saturating_add(ticks_to_us(duration, self.time_base)))
    }
}

/// Opens the subtitle decoder with the packet time base set (as `ffmpeg`
/// does), so that FFmpeg fills in pts and display times.
fn open_decoder(params: ffmpeg::codec::Parameters, time_base: ffmpeg::Rational) -> Result<ffmpeg::decoder::Subtitle> {
    let context = ffmpeg::codec::Context::from_parameters(params)
        .map_err(|e| Error::media(format!("invalid subtitle stream parameters: {e}")))?;
    let mut decoder = context.decoder();
    decoder.set_packet_time_base(time_base);
    decoder.subtitle().map_err(|e| Error::media(format!("cannot open subtitle decoder: {e}")))
}

/// The ASS header (styles) the decoder produced, empty if none.
fn subtitle_header(decoder: &ffmpeg::decoder::Subtitle) -> String {
    // SAFETY: the context pointer is valid while `decoder` lives; the header
    // is `subtitle_header_size` bytes owned by the context (checked non-null).
    unsafe {
        let ctx = decoder.as_ptr();
        let (data, size) = ((*ctx).subtitle_header, (*ctx).subtitle_header_size);
        match usize::try_from(size) {
            Ok(len) if !data.is_null() && len > 0 => {
                String::from_utf8_lossy(std::slice::from_raw_parts(data, len)).into_owned()
            }
            _ => String::new(),
        }
    }
}

/// A timestamp in `time_base` units to microseconds, exactly as FFmpeg's
/// `av_rescale_q(value, time_base, AV_TIME_BASE_Q)`: rounded to nearest, half
/// away from zero, and `i64::MIN` (`AV_NOPTS_VALUE`) when the result does not
/// fit in `i64`. `time_base` is positive (checked in [`CueExtractor::new`]).
fn ticks_to_us(value: i64, time_base: ffmpeg::Rational) -> i64 {
    let (b, c) = (i64::from(time_base.numerator()) * US_PER_SECOND, i64::from(time_base.denominator()));
    rescale_checked(value, b, c).unwrap_or(i64::MIN)
}

/// An `AVSubtitle` that is freed (`avsubtitle_free`) when dropped.
#[derive(Default)]
struct DecodedSubtitle(ffmpeg::Subtitle);

impl Drop for DecodedSubtitle {
    fn drop(&mut self) {
        // SAFETY: the subtitle is either zeroed or filled by the decoder;
        // avsubtitle_free handles both and resets it.
        unsafe { ffi::avsubtitle_free(self.0.as_mut_ptr()) }
    }
}

/// Text payload of one subtitle rectangle.
enum RectPayload {
    /// An ASS event line (`ReadOrder,Layer,Style,...,Text`).
    Ass(String),
    /// Plain text.
    Plain(String),
}

/// Reads the text payloads of a decoded subtitle (bitmap rects are ignored).
fn rect_payloads(sub: &ffmpeg::Subtitle) -> Vec<RectPayload> {
    let mut out = Vec::new();
    // SAFETY: the AVSubtitle was filled by avcodec_decode_subtitle2: `rects`
    // holds `num_rects` rect pointers (each null or valid) whose strings are
    // null or NUL-terminated, as rect_payload requires.
    unsafe {
        let raw = &*sub.as_ptr();
        if raw.rects.is_null() {
            return out;
        }
        for i in 0..raw.num_rects as usize {
            if let Some(rect) = (*raw.rects.add(i)).as_ref() {
                out.extend(rect_payload(rect));
            }
        }
    }
    out
}

/// The text payload of one rectangle, if it has one.
///
/// # Safety
/// The rect's `ass` / `text` pointers must be null or NUL-terminated strings.
unsafe fn rect_payload(rect: &ffi::AVSubtitleRect) -> Option<RectPayload> {
    // SAFETY: only called on the non-null pointers checked below, which the
    // caller guarantees are NUL-terminated strings.
    let read = |p: *const std::os::raw::c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    match rect.type_ {
        ffi::AVSubtitleType::SUBTITLE_ASS if !rect.ass.is_null() => Some(RectPayload::Ass(read(rect.ass))),
        ffi::AVSubtitleType::SUBTITLE_TEXT if !rect.text.is_null() => Some(RectPayload::Plain(read(rect.text))),
        _ => None,
    }
}

/// WebVTT text of a decoded subtitle: one part per rectangle, joined by
/// line breaks.
fn subtitle_to_webvtt(sub: &ffmpeg::Subtitle, styles: &[AssStyle]) -> String {
    let parts: Vec<String> = rect_payloads(sub)
        .into_iter()
        .map(|payload| match payload {
            RectPayload::Ass(line) => ass_event_to_webvtt(&line, styles),
            RectPayload::Plain(text) => plain_text_to_webvtt(&text),
        })
        .filter(|part| !part.is_empty())
        .collect();
    parts.join("\n")
}

/// Sorts pending cues and gives open-ended ones an end: the next later cue
/// start, else `media_end_us` (if after the start), else
/// [`DEFAULT_OPEN_CUE_US`].
fn resolve_open_ends(mut pending: Vec<PendingCue>, media_end_us: Option<i64>) -> Vec<Cue> {
    pending.sort_by_key(|p| p.start_us);
    let starts: Vec<i64> = pending.iter().map(|p| p.start_us).collect();
    pending
        .into_iter()
        .map(|p| {
            let end_us = p.end_us.unwrap_or_else(|| {
                let next = starts.partition_point(|&s| s <= p.start_us);
                match (starts.get(next), media_end_us) {
                    (Some(&next_start), _) => next_start,
                    (None, Some(end)) if end > p.start_us => end,
                    _ => p.start_us.saturating_add(DEFAULT_OPEN_CUE_US),
                }
            });
            Cue { start_us: p.start_us, end_us, text: p.text }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg::codec::Id;

    fn params_for(id: Id) -> ffmpeg::codec::Parameters {
        let mut params = ffmpeg::codec::Parameters::new();
        params.set_medium(ffmpeg::media::Type::Subtitle);
        params.set_id(id);
        params
    }

    fn packet(data: &[u8], pts: Option<i64>, dts: Option<i64>, duration: i64) -> ffmpeg::Packet {
        let mut p = ffmpeg::Packet::copy(data);
        p.set_pts(pts);
        p.set_dts(dts);
        p.set_duration(duration);
        p
    }

    fn cue(start_us: i64, end_us: i64, text: &str) -> Cue {
        Cue { start_us, end_us, text: text.into() }
    }

    #[test]
    fn ticks_to_us_equals_av_rescale_q() {
        let time_bases = [(1, 1000), (1, 90_000), (1, 48_000), (1001, 24_000), (1, 14_112_000), (3, 2), (1, 1)];
        let values = [
            0,
            1,
            -1,
            3,
            -3,
            45,
            -45,
            4_500,
            -4_500,
            1_234_567_891,
            -1_234_567_891,
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 7,
            1 << 40,
            -(1 << 40),
            i64::MAX / 1_000_000,
            i64::MAX / 1000,
            i64::MAX - 1,
            i64::MIN + 1,
        ];
        for (num, den) in time_bases {
            let tb = ffmpeg::Rational(num, den);
            for value in values.into_iter().chain(-2000..2000) {
                // SAFETY: av_rescale_q is a pure arithmetic function.
                let expected =
                    unsafe { ffi::av_rescale_q(value, tb.into(), ffi::AVRational { num: 1, den: 1_000_000 }) };
                assert_eq!(ticks_to_us(value, tb), expected, "{value} in {num}/{den}");
            }
        }
    }

    #[test]
    fn extractor_refuses_pgs() {
        let err =
            CueExtractor::new(params_for(Id::HDMV_PGS_SUBTITLE), ffmpeg::Rational(1, 1000)).err().expect("refused");
        assert_eq!(err.to_string(), "bitmap subtitles (PGS) cannot be converted to WebVTT");
        let bad_tb = CueExtractor::new(params_for(Id::SUBRIP), ffmpeg::Rational(0, 1));
        assert!(bad_tb.is_err());
    }

    #[test]
    fn extractor_timing_fallbacks() {
        let tb = ffmpeg::Rational(1, 90_000);
        let mut ex = CueExtractor::new(params_for(Id::SUBRIP), tb).expect("subrip");
        // No duration: ends at the next cue's start.
        ex.push(&packet(b"<i>one</i>", Some(90_000), None, 0)).expect("push");
        // dts only, with duration.
        ex.push(&packet(b"two & more", None, Some(360_000), 45_000)).expect("push");
        // Neither pts nor dts: ignored.
        ex.push(&packet(b"lost", None, None, 90_000)).expect("push");
        // Blank text: ignored.
        ex.push(&packet(b"  ", Some(500_000), None, 90_000)).expect("push");
        // Invalid UTF-8 is refused, the extractor stays usable.
        assert!(ex.push(&packet(b"bad \xff\xfe", Some(540_000), None, 90_000)).is_err());
        // Last cue without duration.
        ex.push(&packet(b"last", Some(900_000), None, 0)).expect("push");
        assert_eq!(ex.cue_count(), 3);
        let track = ex.finish_with_media_end(12_000_000);
        assert_eq!(
            track.cues(),
            [
                cue(1_000_000, 4_000_000, "<i>one</i>"),
                cue(4_000_000, 4_500_000, "two &amp; more"),
                cue(10_000_000, 12_000_000, "last"),
            ]
        );
    }

    #[test]
    fn open_last_cue_gets_default_length() {
        let mut ex = CueExtractor::new(params_for(Id::SUBRIP), ffmpeg::Rational(1, 1000)).expect("subrip");
        ex.push(&packet(b"a", Some(2000), None, 0)).expect("push");
        ex.push(&packet(b"b", Some(2000), None, 0)).expect("push");
        let track = ex.finish();
        assert_eq!(
            track.cues(),
            [
                cue(2_000_000, 2_000_000 + DEFAULT_OPEN_CUE_US, "a"),
                cue(2_000_000, 2_000_000 + DEFAULT_OPEN_CUE_US, "b"),
            ]
        );
    }
}

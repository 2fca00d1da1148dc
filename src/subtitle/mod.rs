//! Text subtitles served as WebVTT.
//!
//! Cues are extracted **once**, while the media is indexed: the indexer feeds
//! every packet of a text subtitle stream to a [`CueExtractor`], which decodes
//! it with FFmpeg's own subtitle decoder (SubRip, ASS/SSA, mov_text/tx3g,
//! WebVTT, ... all come out as ASS events) and converts each event to WebVTT
//! cue text the way FFmpeg's `webvtt` encoder does. The result is a compact,
//! sorted [`CueTrack`]; serving a WebVTT media segment is then a pure
//! in-memory lookup ([`CueTrack::overlapping`], O(log n + k)) plus rendering
//! ([`render_segment`]). Nothing here re-opens or re-reads the media file.
//!
//! Deliberate differences from `ffmpeg -i SRC -map 0:s:N -f webvtt -`
//! (FFmpeg 5.1), all of which only touch output FFmpeg gets wrong:
//! * `&`, `<`, `>` in the subtitle text are escaped (FFmpeg writes them raw,
//!   which is invalid WebVTT);
//! * `\h` becomes a space and ASS drawings (`{\p1}...{\p0}`) are dropped
//!   (FFmpeg prints `\h` and the drawing commands literally);
//! * empty lines inside a cue are removed (a blank line would end the cue),
//!   and cues with no visible text are skipped (FFmpeg writes empty cues);
//! * cue times are written as `HH:MM:SS.mmm` (FFmpeg omits a zero hour);
//! * a malformed override block (`{\i1 x}`) is skipped up to the next `\` or
//!   `}` instead of dropping the rest of the event, and open tags are always
//!   closed at the end of each event.

use std::ffi::CStr;
use std::fmt::{self, Write as _};

use ffmpeg_next as ffmpeg;

use ffmpeg::ffi;

/// Duration given to a cue that has no duration and no later cue to end at.
pub const DEFAULT_OPEN_CUE_US: i64 = 5_000_000;

/// Maximum depth of nested styling tags, as in FFmpeg's `webvtt` encoder.
const TAG_STACK_LIMIT: usize = 64;

/// FFmpeg's internal time base (`AV_TIME_BASE_Q`): microseconds.
const MICROS: ffi::AVRational = ffi::AVRational { num: 1, den: 1_000_000 };

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why a subtitle stream cannot be turned into WebVTT, or a packet failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleError(pub String);

impl fmt::Display for SubtitleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SubtitleError {}

// ---------------------------------------------------------------------------
// Cues and cue tracks
// ---------------------------------------------------------------------------

use crate::model::cues::{Cue, CueTrack};

// ---------------------------------------------------------------------------
// Codec classification
// ---------------------------------------------------------------------------

/// Is this codec a text subtitle we can serve?
///
/// # Errors
/// A human-readable reason for bitmap subtitles ("bitmap subtitles (PGS)
/// cannot be converted to WebVTT"), non-subtitle codecs and subtitle codecs
/// FFmpeg has no decoder for.
pub fn classify(codec_id: ffmpeg::codec::Id) -> Result<(), String> {
    let raw: ffi::AVCodecID = codec_id.into();
    // SAFETY: avcodec_descriptor_get accepts any id and returns a pointer to
    // a static descriptor or null.
    let descriptor = unsafe { ffi::avcodec_descriptor_get(raw).as_ref() };
    let Some(descriptor) = descriptor else {
        return Err(format!("unknown codec {codec_id:?}"));
    };
    let name = descriptor_name(descriptor);
    if descriptor.type_ != ffi::AVMediaType::AVMEDIA_TYPE_SUBTITLE {
        return Err(format!("codec {name} is not a subtitle codec"));
    }
    if descriptor.props & ffi::AV_CODEC_PROP_BITMAP_SUB != 0 {
        return Err(format!("bitmap subtitles ({}) cannot be converted to WebVTT", bitmap_label(codec_id, &name)));
    }
    if descriptor.props & ffi::AV_CODEC_PROP_TEXT_SUB == 0 {
        return Err(format!("subtitle codec {name} is not a text format"));
    }
    // SAFETY: avcodec_find_decoder accepts any id and returns a static codec
    // or null.
    if unsafe { ffi::avcodec_find_decoder(raw) }.is_null() {
        return Err(format!("FFmpeg has no decoder for subtitle codec {name}"));
    }
    Ok(())
}

/// The short name of a codec descriptor.
fn descriptor_name(descriptor: &ffi::AVCodecDescriptor) -> String {
    if descriptor.name.is_null() {
        return String::from("?");
    }
    // SAFETY: a non-null descriptor name is a static NUL-terminated string.
    unsafe { CStr::from_ptr(descriptor.name) }.to_string_lossy().into_owned()
}

/// Human label of a bitmap subtitle format for error messages.
fn bitmap_label(codec_id: ffmpeg::codec::Id, name: &str) -> String {
    use ffmpeg::codec::Id;
    match codec_id {
        Id::HDMV_PGS_SUBTITLE => "PGS".into(),
        Id::DVD_SUBTITLE => "VobSub".into(),
        Id::DVB_SUBTITLE => "DVB".into(),
        Id::XSUB => "XSUB".into(),
        Id::DVB_TELETEXT => "teletext".into(),
        _ => name.into(),
    }
}

// ---------------------------------------------------------------------------
// Extraction
// ---------------------------------------------------------------------------

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
}

impl CueExtractor {
    /// Opens FFmpeg's decoder for a text subtitle stream whose packets use
    /// `time_base`.
    ///
    /// # Errors
    /// For bitmap codecs (PGS, VobSub, DVB, XSUB: "bitmap subtitles (PGS)
    /// cannot be converted to WebVTT"), codecs FFmpeg cannot decode (the
    /// reason of [`classify`]), a time base that is not positive, or a
    /// decoder that fails to open.
    pub fn new(params: ffmpeg::codec::Parameters, time_base: ffmpeg::Rational) -> Result<CueExtractor, SubtitleError> {
        classify(params.id()).map_err(SubtitleError)?;
        if time_base.numerator() <= 0 || time_base.denominator() <= 0 {
            return Err(SubtitleError(format!("invalid subtitle stream time base {time_base}")));
        }
        let decoder = open_decoder(params, time_base)?;
        let styles = parse_styles(&subtitle_header(&decoder));
        Ok(CueExtractor { decoder, time_base, styles, pending: Vec::new() })
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
    pub fn push(&mut self, packet: &ffmpeg::Packet) -> Result<(), SubtitleError> {
        let mut decoded = DecodedSubtitle::default();
        let got = self
            .decoder
            .decode(packet, &mut decoded.0)
            .map_err(|e| SubtitleError(format!("subtitle decoding failed: {e}")))?;
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

    /// Ends extraction; a last cue without duration lasts
    /// [`DEFAULT_OPEN_CUE_US`].
    pub fn finish(self) -> CueTrack {
        CueTrack::new(resolve_open_ends(self.pending, None))
    }

    /// Ends extraction; a last cue without duration ends at `media_end_us`
    /// (the end of the media), or lasts [`DEFAULT_OPEN_CUE_US`] if that is
    /// not after its start.
    pub fn finish_with_media_end(self, media_end_us: i64) -> CueTrack {
        CueTrack::new(resolve_open_ends(self.pending, Some(media_end_us)))
    }

    /// Cue start in µs: the decoder's pts (packet pts), else the packet dts,
    /// plus the event's start offset.
    fn start_us(&self, packet: &ffmpeg::Packet, sub: &ffmpeg::Subtitle) -> Option<i64> {
        let base = match sub.pts() {
            Some(pts) => pts,
            None => rescale_to_us(packet.dts()?, self.time_base),
        };
        Some(base.saturating_add(i64::from(sub.start()) * 1000))
    }

    /// Cue end in µs, `None` when the event has no known duration.
    fn end_us(&self, packet: &ffmpeg::Packet, sub: &ffmpeg::Subtitle, start_us: i64) -> Option<i64> {
        let (shown, hidden) = (sub.start(), sub.end());
        if hidden != u32::MAX && hidden > shown {
            return Some(start_us.saturating_add(i64::from(hidden - shown) * 1000));
        }
        let duration = packet.duration();
        (duration > 0).then(|| start_us.saturating_add(rescale_to_us(duration, self.time_base)))
    }
}

/// Opens the subtitle decoder with the packet time base set (as `ffmpeg`
/// does), so that FFmpeg fills in pts and display times.
fn open_decoder(
    params: ffmpeg::codec::Parameters,
    time_base: ffmpeg::Rational,
) -> Result<ffmpeg::decoder::Subtitle, SubtitleError> {
    let context = ffmpeg::codec::Context::from_parameters(params)
        .map_err(|e| SubtitleError(format!("invalid subtitle stream parameters: {e}")))?;
    let mut decoder = context.decoder();
    decoder.set_packet_time_base(time_base);
    decoder.subtitle().map_err(|e| SubtitleError(format!("cannot open subtitle decoder: {e}")))
}

/// The ASS header (styles) the decoder produced, empty if none.
fn subtitle_header(decoder: &ffmpeg::decoder::Subtitle) -> String {
    // SAFETY: the context pointer is valid while `decoder` lives; the header
    // is `subtitle_header_size` bytes owned by the context.
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

/// Rescales a timestamp to microseconds, rounding like FFmpeg.
fn rescale_to_us(value: i64, time_base: ffmpeg::Rational) -> i64 {
    // SAFETY: av_rescale_q is a pure arithmetic function.
    unsafe { ffi::av_rescale_q(value, time_base.into(), MICROS) }
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
    // holds `num_rects` rect pointers whose strings are NUL-terminated.
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
    // SAFETY: only called on the non-null pointers checked below.
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
/// start, else `media_end_us` (if after the start), else a default length.
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

// ---------------------------------------------------------------------------
// ASS styles (the [V4+ Styles] / [V4 Styles] part of the subtitle header)
// ---------------------------------------------------------------------------

/// The parts of an ASS style that WebVTT can express.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct AssStyle {
    name: String,
    bold: bool,
    italic: bool,
    underline: bool,
}

/// Style fields we care about; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StyleField {
    Name,
    Bold,
    Italic,
    Underline,
    Other,
}

/// Field names of `[V4+ Styles]`, in FFmpeg's (ass_split.c) order.
const V4_PLUS_FIELDS: &[&str] = &[
    "Name",
    "Fontname",
    "Fontsize",
    "PrimaryColour",
    "SecondaryColour",
    "OutlineColour",
    "BackColour",
    "Bold",
    "Italic",
    "Underline",
    "StrikeOut",
    "ScaleX",
    "ScaleY",
    "Spacing",
    "Angle",
    "BorderStyle",
    "Outline",
    "Shadow",
    "Alignment",
    "MarginL",
    "MarginR",
    "MarginV",
    "Encoding",
];

/// Field names of `[V4 Styles]` (SSA), in FFmpeg's order.
const V4_FIELDS: &[&str] = &[
    "Name",
    "Fontname",
    "Fontsize",
    "PrimaryColour",
    "SecondaryColour",
    "TertiaryColour",
    "BackColour",
    "Bold",
    "Italic",
    "BorderStyle",
    "Outline",
    "Shadow",
    "Alignment",
    "MarginL",
    "MarginR",
    "MarginV",
    "AlphaLevel",
    "Encoding",
];

/// Parses the styles of an ASS header the way FFmpeg's `ass_split` does: a
/// `Format:` line fixes the field order, `Style:` lines before it are ignored.
fn parse_styles(header: &str) -> Vec<AssStyle> {
    let field_lists = [V4_PLUS_FIELDS, V4_FIELDS];
    let mut orders: [Option<Vec<StyleField>>; 2] = [None, None];
    let mut section: Option<usize> = None;
    let mut styles = Vec::new();
    for line in header.split('\n') {
        let line = line.split('\r').next().unwrap_or("");
        if line.starts_with('[') {
            section = style_section(line);
            continue;
        }
        let Some(idx) = section else { continue };
        if line.starts_with(';') || line.starts_with("!:") {
            continue;
        }
        match (&orders[idx], field_lists.get(idx)) {
            (None, Some(fields)) => {
                if let Some(rest) = line.strip_prefix("Format:") {
                    orders[idx] = Some(parse_format_line(rest, fields));
                }
            }
            (Some(order), _) => {
                if let Some(rest) = line.strip_prefix("Style:") {
                    styles.push(parse_style_line(rest, order));
                }
            }
            _ => {}
        }
    }
    styles
}

/// Index (0 = V4+, 1 = V4) of a `[Section]` line that opens a style section.
fn style_section(line: &str) -> Option<usize> {
    let inner = line.get(1..)?;
    let len = inner.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b' ').count();
    if len > 15 || inner.as_bytes().get(len) != Some(&b']') {
        return None;
    }
    match &inner[..len] {
        "V4+ Styles" => Some(0),
        "V4 Styles" => Some(1),
        _ => None,
    }
}

/// Parses the field list of a `Format:` line (tokens split on `,` and ` `;
/// a token names the first field it is a prefix of, as in FFmpeg).
fn parse_format_line(rest: &str, fields: &[&str]) -> Vec<StyleField> {
    let mut order = Vec::new();
    let mut s = rest;
    while !s.is_empty() {
        s = s.trim_start_matches(' ');
        let len = s.find([',', ' ']).unwrap_or(s.len());
        let (token, tail) = s.split_at(len);
        order.push(style_field(token, fields));
        s = tail.strip_prefix(',').unwrap_or(tail).trim_start_matches(' ');
    }
    order
}

/// The field a `Format:` token designates.
fn style_field(token: &str, fields: &[&str]) -> StyleField {
    match fields.iter().find(|name| name.starts_with(token)) {
        Some(&"Name") => StyleField::Name,
        Some(&"Bold") => StyleField::Bold,
        Some(&"Italic") => StyleField::Italic,
        Some(&"Underline") => StyleField::Underline,
        _ => StyleField::Other,
    }
}

/// Parses the values of a `Style:` line in the given field order.
fn parse_style_line(rest: &str, order: &[StyleField]) -> AssStyle {
    let mut style = AssStyle::default();
    let mut s = rest;
    for (i, field) in order.iter().enumerate() {
        if s.is_empty() {
            break;
        }
        let last = i + 1 == order.len();
        s = s.trim_start_matches(' ');
        let len = if last { s.len() } else { s.find(',').unwrap_or(s.len()) };
        let (value, tail) = s.split_at(len);
        set_style_field(&mut style, *field, value);
        s = tail.strip_prefix(',').unwrap_or(tail).trim_start_matches(' ');
    }
    style
}

/// Stores one parsed style value (integers as C `sscanf("%d")` reads them;
/// an unparsable integer leaves the field unchanged).
fn set_style_field(style: &mut AssStyle, field: StyleField, value: &str) {
    let flag = c_int_is_nonzero(value);
    match field {
        StyleField::Name => style.name = value.to_string(),
        StyleField::Bold => style.bold = flag.unwrap_or(style.bold),
        StyleField::Italic => style.italic = flag.unwrap_or(style.italic),
        StyleField::Underline => style.underline = flag.unwrap_or(style.underline),
        StyleField::Other => {}
    }
}

/// `Some(n != 0)` if `value` starts (after white space) with a decimal
/// integer `n`, else `None`.
fn c_int_is_nonzero(value: &str) -> Option<bool> {
    let s = value.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let digits: Vec<u8> = s.bytes().take_while(u8::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    Some(digits.iter().any(|&d| d != b'0'))
}

/// The style FFmpeg's `ff_ass_style_get` picks: by exact name, an empty name
/// meaning "Default".
fn find_style<'a>(styles: &'a [AssStyle], name: &str) -> Option<&'a AssStyle> {
    let name = if name.is_empty() { "Default" } else { name };
    styles.iter().find(|s| s.name == name)
}

// ---------------------------------------------------------------------------
// ASS event text -> WebVTT cue text
// ---------------------------------------------------------------------------

/// ASS event text (the Text field of a Dialogue, i.e. after the 8th comma of
/// `ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text`) to
/// WebVTT cue text, as FFmpeg's `webvtt` encoder converts it:
/// `\N`/`\n` → newline, `{\i1}`/`{\i0}` → `<i>`/`</i>`, `{\b1}`/`{\b0}` →
/// `<b>`/`</b>`, `{\u1}`/`{\u0}` → `<u>`/`</u>` (closing a tag also closes
/// the tags opened after it), `{\r}` closes all, other override tags are
/// removed and tags still open are closed at the end. In addition `\h` →
/// space, drawings (`{\p1}` … `{\p0}`) are removed, `&`, `<`, `>` are
/// escaped and empty lines are dropped. No style is applied (see
/// [`CueExtractor`] for styled events).
pub fn ass_text_to_webvtt(ass_text: &str) -> String {
    let mut writer = VttWriter::new(&[]);
    write_ass_text(&mut writer, ass_text);
    drop_empty_lines(&writer.finish())
}

/// Converts a full decoded ASS event line (`ReadOrder,Layer,Style,...,Text`),
/// applying the bold/italic/underline of its style first.
fn ass_event_to_webvtt(line: &str, styles: &[AssStyle]) -> String {
    let (style, text) = split_dialog(line);
    let mut writer = VttWriter::new(styles);
    writer.apply_style(style);
    write_ass_text(&mut writer, text);
    drop_empty_lines(&writer.finish())
}

/// Plain subtitle text to WebVTT: escaped, empty lines dropped.
fn plain_text_to_webvtt(text: &str) -> String {
    let mut writer = VttWriter::new(&[]);
    writer.text(text);
    drop_empty_lines(&writer.finish())
}

/// Splits `ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text`
/// into (Style, Text), skipping spaces before each field as FFmpeg does.
fn split_dialog(line: &str) -> (&str, &str) {
    let mut rest = line;
    let mut style = "";
    for field in 0..8 {
        rest = rest.trim_start_matches(' ');
        let len = rest.find(',').unwrap_or(rest.len());
        let (value, tail) = rest.split_at(len);
        if field == 2 {
            style = value;
        }
        rest = tail.strip_prefix(',').unwrap_or(tail);
    }
    (style, rest.trim_start_matches(' '))
}

/// Builds WebVTT text with a stack of open `b`/`i`/`u` tags, mirroring the
/// callbacks of FFmpeg's `webvtt` encoder.
struct VttWriter<'s> {
    out: String,
    stack: Vec<u8>,
    drawing: bool,
    styles: &'s [AssStyle],
}

impl<'s> VttWriter<'s> {
    /// An empty writer resolving `\r` and event styles in `styles`.
    fn new(styles: &'s [AssStyle]) -> Self {
        VttWriter { out: String::new(), stack: Vec::new(), drawing: false, styles }
    }

    /// Appends escaped text (nothing while in drawing mode).
    fn text(&mut self, run: &str) {
        if self.drawing {
            return;
        }
        for ch in run.chars() {
            match ch {
                '&' => self.out.push_str("&amp;"),
                '<' => self.out.push_str("&lt;"),
                '>' => self.out.push_str("&gt;"),
                other => self.out.push(other),
            }
        }
    }

    /// Appends a line break (nothing while in drawing mode).
    fn new_line(&mut self) {
        if !self.drawing {
            self.out.push('\n');
        }
    }

    /// A `\b`, `\i`, `\s`, `\u` override: open, or close down to the last
    /// open tag of that kind (strike-through is not supported).
    fn style(&mut self, tag: u8, open: bool) {
        if tag == b's' {
            return;
        }
        if open {
            self.open_tag(tag);
        } else if let Some(pos) = self.stack.iter().rposition(|&t| t == tag) {
            self.close_down_to(pos);
        }
    }

    /// `\r[Style]`: closes every tag and applies the named style ("Default"
    /// when unnamed).
    fn cancel_overrides(&mut self, style: &str) {
        self.close_down_to(0);
        self.apply_style(style);
    }

    /// Opens the tags for the bold/italic/underline flags of a style.
    fn apply_style(&mut self, name: &str) {
        let Some(style) = find_style(self.styles, name) else {
            return;
        };
        let (bold, italic, underline) = (style.bold, style.italic, style.underline);
        for (on, tag) in [(bold, b'b'), (italic, b'i'), (underline, b'u')] {
            if on {
                self.open_tag(tag);
            }
        }
    }

    /// Pushes and writes an opening tag, unless the stack is full.
    fn open_tag(&mut self, tag: u8) {
        if self.stack.len() < TAG_STACK_LIMIT {
            self.stack.push(tag);
            self.out.push('<');
            self.out.push(char::from(tag));
            self.out.push('>');
        }
    }

    /// Closes open tags until only `len` remain.
    fn close_down_to(&mut self, len: usize) {
        while self.stack.len() > len {
            if let Some(tag) = self.stack.pop() {
                let _ = write!(self.out, "</{}>", char::from(tag));
            }
        }
    }

    /// Closes every open tag and returns the text.
    fn finish(mut self) -> String {
        self.close_down_to(0);
        self.out
    }
}

/// Walks ASS text: text runs, `\N`/`\n` line breaks, `\h` hard spaces and
/// `{\...}` override blocks (a `{` not followed by `\` is plain text).
fn write_ass_text(writer: &mut VttWriter<'_>, text: &str) {
    let bytes = text.as_bytes();
    let (mut i, mut run_start) = (0, 0);
    while i < bytes.len() {
        let next = match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'n' | b'N')) => Some(Token::NewLine),
            (b'\\', Some(b'h')) => Some(Token::HardSpace),
            (b'{', Some(b'\\')) => Some(Token::Block),
            _ => None,
        };
        let Some(token) = next else {
            i += 1;
            continue;
        };
        writer.text(text.get(run_start..i).unwrap_or(""));
        i = match token {
            Token::NewLine => {
                writer.new_line();
                i + 2
            }
            Token::HardSpace => {
                writer.text(" ");
                i + 2
            }
            Token::Block => parse_override_block(writer, text, i + 1),
        };
        run_start = i;
    }
    writer.text(text.get(run_start..).unwrap_or(""));
}

/// What interrupts a text run.
enum Token {
    NewLine,
    HardSpace,
    Block,
}

/// Parses the override codes of a `{\...}` block starting at the first `\`;
/// returns the index after the closing `}` (or the end of the text).
/// Junk between codes is skipped up to the next `\` or `}`.
fn parse_override_block(writer: &mut VttWriter<'_>, text: &str, mut i: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        match bytes.get(i) {
            Some(b'\\') => i = parse_override_code(writer, text, i),
            Some(b'}') => return i + 1,
            Some(_) => i = skip_to_separator(bytes, i),
            None => return bytes.len(),
        }
    }
}

/// Index of the next `\` or `}` at or after `from` (or the end of `bytes`).
fn skip_to_separator(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|tail| tail.iter().position(|&c| c == b'\\' || c == b'}'))
        .map_or(bytes.len(), |p| from + p)
}

/// Applies one override code starting at the `\` at `i`; returns the index
/// after it (always > `i`). Codes WebVTT cannot express are skipped.
fn parse_override_code(writer: &mut VttWriter<'_>, text: &str, i: usize) -> usize {
    let bytes = text.as_bytes();
    if let Some(next) = style_code(writer, bytes, i) {
        return next;
    }
    if let Some(next) = reset_code(writer, text, i) {
        return next;
    }
    if let Some(next) = drawing_code(writer, bytes, i) {
        return next;
    }
    skip_to_separator(bytes, i + 1)
}

/// `\b1` `\b0` `\b` (and `i`, `s`, `u`), as FFmpeg's `\%1[bisu]%1[01\}]`: a
/// tag letter then `1` (open), `0` or a separator (close).
fn style_code(writer: &mut VttWriter<'_>, bytes: &[u8], i: usize) -> Option<usize> {
    let tag = *bytes.get(i + 1)?;
    if !b"bisu".contains(&tag) {
        return None;
    }
    let (open, next) = match *bytes.get(i + 2)? {
        b'1' => (true, i + 3),
        b'0' => (false, i + 3),
        b'\\' | b'}' => (false, i + 2),
        _ => return None,
    };
    writer.style(tag, open);
    Some(next)
}

/// `\r` or `\rStyle` followed by a separator: cancel overrides.
fn reset_code(writer: &mut VttWriter<'_>, text: &str, i: usize) -> Option<usize> {
    if text.as_bytes().get(i + 1) != Some(&b'r') {
        return None;
    }
    let sep = skip_to_separator(text.as_bytes(), i + 2);
    let name = text.get(i + 2..sep)?;
    if sep >= text.len() || name.len() > 127 {
        return None;
    }
    writer.cancel_overrides(name);
    Some(sep)
}

/// `\p<scale>`: drawing mode on (scale > 0) or off (0).
fn drawing_code(writer: &mut VttWriter<'_>, bytes: &[u8], i: usize) -> Option<usize> {
    if bytes.get(i + 1) != Some(&b'p') {
        return None;
    }
    let digits = bytes.get(i + 2..)?;
    let count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 {
        return None;
    }
    writer.drawing = digits[..count].iter().any(|&d| d != b'0');
    Some(skip_to_separator(bytes, i + 2 + count))
}

/// Removes empty (or blank) lines, which would end a WebVTT cue early;
/// a carriage return counts as a line break.
fn drop_empty_lines(text: &str) -> String {
    let lines: Vec<&str> = text.split(['\n', '\r']).filter(|line| !line.trim().is_empty()).collect();
    lines.join("\n")
}

/// True when the cue text has nothing but tags and white space.
fn is_visibly_empty(text: &str) -> bool {
    let mut in_tag = false;
    for ch in text.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && !c.is_whitespace() => return false,
            _ => {}
        }
    }
    true
}

// ---------------------------------------------------------------------------
// WebVTT rendering
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::webvtt::{render_full, render_segment, us_to_ms};
    use ffmpeg::codec::Id;
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
        let out =
            Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-y"]).args(args).output().expect("run ffmpeg");
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
             00:00:08.123 --> 00:00:09.456\n<u>under</u> line one\nline two\n"
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
    fn ass_text_conversion() {
        let cases = [
            (r"{\pos(10,10)}{\i1}x{\i0}\Ny", "<i>x</i>\ny"),
            (r"a\nb", "a\nb"),
            (r"a\hb", "a b"),
            (r"before{\p1}m 0 0 l 100 0{\p0}after", "beforeafter"),
            (r"{\p1}m 0 0 l 100 0", ""),
            ("x & y <z> -->", "x &amp; y &lt;z&gt; --&gt;"),
            (r"{\b1}a{\i1}b{\b0}c{\i0}d", "<b>a<i>b</i></b>cd"),
            (r"{\i1}a{\i1}b{\i0}c", "<i>a<i>b</i>c</i>"),
            (r"{\b1\i1}open", "<b><i>open</i></b>"),
            (r"{\u1}u{\r}plain", "<u>u</u>plain"),
            (r"{\i1}a{\i}b", "<i>a</i>b"),
            (r"{\s1}s{\s0}", "s"),
            (r"{\fnArial\fs20\c&H00FF00&\an8\blur2\be1}t", "t"),
            ("{comment}t}", "{comment}t}"),
            (r"{\i1 }x", "<i>x</i>"),
            (r"a\N\Nb\N", "a\nb"),
            (r"x{\i1", "x<i></i>"),
            ("", ""),
        ];
        for (ass, vtt) in cases {
            assert_eq!(ass_text_to_webvtt(ass), vtt, "{ass:?}");
        }
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
    fn classify_refuses_bitmap_and_unknown() {
        assert_eq!(
            classify(Id::HDMV_PGS_SUBTITLE),
            Err("bitmap subtitles (PGS) cannot be converted to WebVTT".to_string())
        );
        for id in [Id::DVD_SUBTITLE, Id::DVB_SUBTITLE, Id::XSUB] {
            let reason = classify(id).expect_err("bitmap");
            assert!(reason.starts_with("bitmap subtitles ("), "{reason}");
        }
        for id in [Id::SUBRIP, Id::ASS, Id::MOV_TEXT, Id::WEBVTT, Id::TEXT] {
            assert_eq!(classify(id), Ok(()), "{id:?}");
        }
        assert!(classify(Id::H264).is_err());
        assert!(classify(Id::TTML).is_err(), "TTML has no decoder");
    }

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

    #[test]
    fn thread_safety() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<CueExtractor>();
        send_sync::<CueTrack>();
        send_sync::<SubtitleError>();
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
             01:02:03.457 --> 01:02:04.000\nlate\n"
        );
    }
}

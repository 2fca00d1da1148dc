//! Master and media playlists (RFC 8216), written from the index alone: no file access.
//!
//! # The master playlist's layout
//!
//! RFC 8216 §4.3.4.1.1 wants every group of one TYPE to hold the same renditions (matched by
//! NAME, with the same attributes but URI and CHANNELS): a player switching variants keeps the
//! language it plays, and a player switching language finds it in the group it plays from.
//!
//! - **Audio tracks.** Each served source audio stream is one *audio track*: one NAME, one
//!   LANGUAGE, one set of roles, served in one or two renditions: its own (`tN`, copied, or AAC
//!   made on demand when the codec cannot be copied) and, when the transcode policy asks for one
//!   (by default beside every AC-3, E-AC-3 and MP3 track), an AAC rendition (`tNa`).
//! - **At most two AUDIO groups, each holding every audio track.** The first group carries each
//!   track in the codec every player decodes: its AAC rendition when it has one, else its own.
//!   When some track has an AAC rendition, a second group carries every track as its source has
//!   it (AC-3, E-AC-3, MP3, ...). Tracks that are already AAC (or Opus, FLAC, which every
//!   browser decodes from fMP4) sit in both groups with the same URI. Group IDs name the codecs inside
//!   (`aac`, `aac-ac3-eac3`). A file whose tracks have no AAC rendition has one group.
//! - **Variants.** One per AUDIO group for the one video rendition, the every-player group
//!   first (players start with the first variant they can decode): CODECS is the video's codec
//!   and every codec of the group, AAC last (`avc1…,ac-3,ec-3,mp4a.40.2`); BANDWIDTH is the
//!   video's peak plus the group's worst member.
//!   Players that cannot decode one of the second group's codecs (Chromium and Firefox with AC-3)
//!   drop that variant and keep the first.
//! - **Roles.** NAME is the track's title when it names something ("Director's Commentary"),
//!   else the language's name in that language plus the role and layout ("English (SDH)",
//!   "Français (5.1)"), unique in its group. LANGUAGE is the RFC 5646 tag (`fr`, `pt-BR`),
//!   omitted for an undetermined language. Commentary is AUTOSELECT=NO and never DEFAULT; audio
//!   description carries `public.accessibility.describes-video`, SDH subtitles
//!   `transcribes-spoken-dialog,describes-music-and-sound`. Every group marks the same track
//!   DEFAULT=YES (the stream flagged default unless it is commentary or audio description).
//! - **Subtitles.** One SUBTITLES group, `subs`, with every served text track (WebVTT).
//! - **Audio only.** No video: one variant per audio rendition (no AUDIO groups), the
//!   every-player renditions first.
//! - **I-frame playlist.** The video rendition has an `EXT-X-I-FRAME-STREAM-INF` after the
//!   variants (CODECS, RESOLUTION and VIDEO-RANGE of the video; BANDWIDTH and
//!   AVERAGE-BANDWIDTH the keyframe entries' rates: exact for MP4 sample tables, else upper
//!   bounds from the segments' sizes, which is all the index knows without reading the
//!   keyframes) naming `tN_iframes.m3u8` (see [`iframes`]).

use std::collections::HashSet;
use std::fmt::Write;

use crate::codec::picture::{TRANSFER_HLG, TRANSFER_PQ};
use crate::codec::Codec;
use crate::model::encryption::{hex, IvPolicy, TrackKey};
use crate::model::lang;
use crate::model::media_index::MediaIndex;
use crate::model::names::Resource;
use crate::model::track::{SampleReader, Track, TrackKind};
use crate::output::fmp4;
use crate::util::decimal;

/// Peak and average bit rates of one rendition (bit/s).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Rates {
    peak: f64,
    average: f64,
}

fn rates(track: &Track) -> Rates {
    let mut r = Rates::default();
    let (mut bytes, mut secs) = (0u64, 0f64);
    for (i, s) in track.segments.iter().enumerate() {
        let d = track.segment_seconds(i);
        if d > 0.0 {
            r.peak = r.peak.max(s.bytes as f64 * 8.0 / d);
        }
        bytes += s.bytes;
        secs += d;
    }
    if secs > 0.0 {
        r.average = bytes as f64 * 8.0 / secs;
    }
    r
}

/// `EXT-X-TARGETDURATION`: every audio/video EXTINF rounded to nearest, at least 1, shared by all
/// audio and video renditions.
pub fn target_duration(index: &MediaIndex) -> u64 {
    index
        .tracks
        .iter()
        .filter(|t| t.is_fmp4())
        .flat_map(|t| (0..t.segments.len()).map(move |i| t.segment_seconds(i)))
        .map(|d| d.round() as u64)
        .max()
        .unwrap_or(1)
        .max(1)
}

fn quoted(s: &str) -> String {
    s.replace(['"', '\n', '\r'], "'")
}

/// Titles that name no track for a viewer once digits and punctuation are dropped ("Audio 1",
/// "Track 2", "SoundHandler", "Stereo", "AC-3", "Core Media Audio"): the muxer's words, not the
/// author's.
const GENERIC_TITLES: &[&str] = &[
    "audio",
    "audiotrack",
    "audiohandler",
    "soundhandler",
    "sound",
    "track",
    "stream",
    "stereo",
    "mono",
    "surround",
    "main",
    "default",
    "subtitle",
    "subtitles",
    "subtitletrack",
    "subtitlehandler",
    "texthandler",
    "sub",
    "subs",
    "text",
    "video",
    "videohandler",
    "coremediaaudio",
    "coremediatext",
    "aac",
    "aaclc",
    "heaac",
    "ac",
    "eac",
    "dts",
    "mp",
    "opus",
    "flac",
    "truehd",
    "pcm",
    "vorbis",
    "srt",
    "ass",
    "webvtt",
];

/// The track's language: the container's BCP 47 tag, else its ISO 639 code.
fn language_of(track: &Track) -> Option<&str> {
    track.language_tag.as_deref().or(track.language.as_deref())
}

/// The source's title, when it is one a viewer should read: not a bare language code, not a
/// generic "Audio 1", and not just the language's name (then the name made from the language
/// carries the role and layout too: "English (5.1)").
fn meaningful_title(track: &Track) -> Option<&str> {
    let t = track.title.as_deref()?.trim();
    let key: String = t.chars().filter(|c| c.is_alphabetic()).flat_map(char::to_lowercase).collect();
    let just_language = language_of(track).and_then(lang::native_name).is_some_and(|n| n.eq_ignore_ascii_case(t));
    (!key.is_empty() && !lang::is_code(t) && !GENERIC_TITLES.contains(&key.as_str()) && !just_language).then_some(t)
}

/// What a viewer reads in the menu (before it is made unique in its group): the track's title,
/// else the language's name in that language with the track's role and surround layout
/// ("English (SDH)", "Français (5.1)", "English (commentary)").
fn display_name(track: &Track) -> String {
    if let Some(t) = meaningful_title(track) {
        return quoted(t);
    }
    let audio = track.kind == TrackKind::Audio;
    let lang = language_of(track);
    let base = lang
        .and_then(lang::native_name)
        .map(str::to_string)
        .or_else(|| lang.and_then(lang::rfc5646))
        .unwrap_or_else(|| (if audio { "Audio" } else { "Subtitles" }).to_string());
    let mut q: Vec<String> = Vec::new();
    if track.roles.commentary {
        q.push("commentary".into());
    }
    if audio && track.roles.visual_impaired {
        q.push("audio description".into());
    }
    if !audio && track.roles.hearing_impaired {
        q.push("SDH".into());
    }
    if !audio && track.forced {
        q.push("forced".into());
    }
    if audio {
        match track.channels {
            0..=2 => {}
            6 => q.push("5.1".into()),
            8 => q.push("7.1".into()),
            n => q.push(format!("{n} channels")),
        }
    }
    quoted(&if q.is_empty() { base } else { format!("{base} ({})", q.join(", ")) })
}

/// Makes `names` unique, in order: the second "English" becomes "English 2".
fn unique_names(names: Vec<String>) -> Vec<String> {
    let mut used = HashSet::new();
    names
        .into_iter()
        .map(|base| {
            let mut name = base.clone();
            let mut n = 2;
            while !used.insert(name.clone()) {
                name = format!("{base} {n}");
                n += 1;
            }
            name
        })
        .collect()
}

/// `,LANGUAGE="<RFC 5646 tag>"` when the track has a language.
fn language_attr(track: &Track) -> String {
    language_of(track).and_then(lang::rfc5646).map(|l| format!(",LANGUAGE=\"{}\"", quoted(&l))).unwrap_or_default()
}

/// A main track: neither commentary nor audio description.
fn is_main(track: &Track) -> bool {
    !track.roles.commentary && !track.roles.visual_impaired
}

/// One audio track as a viewer sees it: a source stream in every encoding it is served in.
struct AudioTrack<'a> {
    /// The stream's own rendition (copied; AAC made on demand when it cannot be copied).
    source: &'a Track,
    /// What every player decodes: its AAC rendition (`tNa`) when the policy made one, else
    /// `source`.
    common: &'a Track,
    /// NAME of all its renditions, unique among the audio tracks.
    name: String,
}

fn audio_tracks(index: &MediaIndex) -> Vec<AudioTrack<'_>> {
    let mut tracks: Vec<(&Track, Option<&Track>)> = Vec::new();
    for t in index.served(TrackKind::Audio) {
        match tracks.iter_mut().find(|(s, _)| s.stream == t.stream) {
            // The stream's own rendition was found first: this is its AAC rendition.
            Some((_, aac)) => *aac = Some(t),
            None => tracks.push((t, None)),
        }
    }
    let names = unique_names(tracks.iter().map(|(s, _)| display_name(s)).collect());
    tracks
        .into_iter()
        .zip(names)
        .map(|((source, aac), name)| AudioTrack { source, common: aac.unwrap_or(source), name })
        .collect()
}

/// The audio track every group marks DEFAULT=YES: the one flagged default unless it is
/// commentary or audio description, else the first main track; never commentary.
fn default_audio(tracks: &[AudioTrack<'_>]) -> Option<usize> {
    tracks
        .iter()
        .position(|a| a.source.default && is_main(a.source))
        .or_else(|| tracks.iter().position(|a| is_main(a.source)))
        .or_else(|| tracks.iter().position(|a| !a.source.roles.commentary))
}

/// One AUDIO group: one rendition of every audio track, in the same order.
struct AudioGroup<'a> {
    id: String,
    members: Vec<&'a Track>,
}

impl AudioGroup<'_> {
    /// Distinct RFC 6381 strings of the members, AAC last: a player that takes a group's first
    /// audio codec for all its members (Shaka Player guesses so) then sees `ac-3` and drops the
    /// whole group where AC-3 is not decoded, instead of feeding AC-3 to an AAC decoder.
    fn codecs(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for c in self.members.iter().filter_map(|t| t.codec_string()) {
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v.sort_by_key(|c| c.starts_with("mp4a.40."));
        v
    }
}

/// Short name of an audio codec, for group IDs.
fn family(track: &Track) -> &'static str {
    match track.codec_config().map(|c| c.codec) {
        Some(Codec::Aac) => "aac",
        Some(Codec::Ac3) => "ac3",
        Some(Codec::Eac3) => "eac3",
        Some(Codec::Mp3) => "mp3",
        Some(Codec::Opus) => "opus",
        Some(Codec::Flac) => "flac",
        _ => "audio",
    }
}

/// The AUDIO groups (see the module documentation): every track in the codec every player
/// decodes, then, when some track also has its source's codec, every track as the source has it.
fn audio_groups<'a>(tracks: &[AudioTrack<'a>]) -> Vec<AudioGroup<'a>> {
    let mut layouts = vec![tracks.iter().map(|a| a.common).collect::<Vec<_>>()];
    if tracks.iter().any(|a| a.common.id != a.source.id) {
        layouts.push(tracks.iter().map(|a| a.source).collect());
    }
    let mut groups: Vec<AudioGroup<'a>> = Vec::new();
    for members in layouts.into_iter().filter(|m| !m.is_empty()) {
        let mut families: Vec<&str> = members.iter().map(|t| family(t)).collect();
        families.sort_unstable();
        families.dedup();
        let base = families.join("-");
        let mut id = base.clone();
        let mut n = 2;
        while groups.iter().any(|g| g.id == id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        groups.push(AudioGroup { id, members });
    }
    groups
}

fn write_audio_media(out: &mut String, g: &AudioGroup<'_>, tracks: &[AudioTrack<'_>], default: Option<usize>) {
    for (i, (a, t)) in tracks.iter().zip(&g.members).enumerate() {
        let s = a.source;
        let _ = write!(out, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{}\",NAME=\"{}\"{}", g.id, a.name, language_attr(s));
        let _ = write!(
            out,
            ",DEFAULT={},AUTOSELECT={}",
            if default == Some(i) { "YES" } else { "NO" },
            if s.roles.commentary { "NO" } else { "YES" }
        );
        if s.roles.visual_impaired {
            out.push_str(",CHARACTERISTICS=\"public.accessibility.describes-video\"");
        }
        let _ = writeln!(out, ",CHANNELS=\"{}\",URI=\"{}\"", t.channels.max(1), Resource::MediaPlaylist(t.id).name());
    }
}

fn write_subtitle_media(out: &mut String, subs: &[&Track]) {
    let names = unique_names(subs.iter().map(|t| display_name(t)).collect());
    let def = subs.iter().position(|t| t.default && !t.roles.commentary);
    for (i, (t, name)) in subs.iter().zip(names).enumerate() {
        let _ = write!(out, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"{name}\"{}", language_attr(t));
        let is_default = def == Some(i);
        let autoselect = !t.roles.commentary && (is_default || t.forced || t.language.is_some());
        let _ = write!(
            out,
            ",DEFAULT={},AUTOSELECT={},FORCED={}",
            if is_default { "YES" } else { "NO" },
            if autoselect { "YES" } else { "NO" },
            if t.forced { "YES" } else { "NO" },
        );
        if t.roles.hearing_impaired {
            out.push_str(
                ",CHARACTERISTICS=\"public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound\"",
            );
        }
        let _ = writeln!(out, ",URI=\"{}\"", Resource::MediaPlaylist(t.id).name());
    }
}

fn write_variant(
    out: &mut String,
    bw: Rates,
    codecs: &[&str],
    video: Option<&Track>,
    audio: Option<&str>,
    subs: bool,
    uri: &str,
) {
    let _ = write!(
        out,
        "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"",
        bw.peak.ceil() as u64,
        bw.average.ceil() as u64,
        codecs.join(",")
    );
    if let Some(v) = video {
        let (w, h) = v.displayed_size();
        if w > 0 && h > 0 {
            let _ = write!(out, ",RESOLUTION={w}x{h}");
        }
        if let Some(fr) = v.frame_rate.filter(|f| *f > 0.0 && *f < 1000.0) {
            let _ = write!(out, ",FRAME-RATE={fr:.3}");
        }
        let _ = write!(out, ",VIDEO-RANGE={}", video_range(v));
        out.push_str(if v.captions.any() { ",CLOSED-CAPTIONS=\"cc\"" } else { ",CLOSED-CAPTIONS=NONE" });
    }
    if let Some(a) = audio {
        let _ = write!(out, ",AUDIO=\"{a}\"");
    }
    if subs {
        out.push_str(",SUBTITLES=\"subs\"");
    }
    let _ = writeln!(out, "\n{uri}");
}

/// `VIDEO-RANGE` from the transfer characteristics the source declares: PQ (SMPTE ST 2084),
/// HLG (ARIB STD-B67), else SDR.
fn video_range(v: &Track) -> &'static str {
    match v.codec_config().and_then(|c| c.picture.colour).map(|c| c.transfer) {
        Some(TRANSFER_PQ) => "PQ",
        Some(TRANSFER_HLG) => "HLG",
        _ => "SDR",
    }
}

/// `EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS` for the captions in the video's SEI (group `cc`): CC1 for
/// CEA-608, SERVICE1 for CEA-708 (which needs `EXT-X-VERSION:7`).
fn write_caption_media(out: &mut String, v: &Track) {
    let c = v.captions;
    let lang = v.language.as_deref().map(|l| format!(",LANGUAGE=\"{}\"", quoted(l))).unwrap_or_default();
    for (present, name, id) in [(c.cea608, "CC1", "CC1"), (c.cea708, "Service 1", "SERVICE1")] {
        if present {
            let _ = writeln!(
                out,
                "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"{name}\"{lang},DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID=\"{id}\""
            );
        }
    }
}

/// The master playlist (the layout is described in the module documentation).
///
/// `session_keys`: the SAMPLE-AES keys of the renditions, written as `EXT-X-SESSION-KEY` so
/// that players can fetch licences before the first media playlist.
pub fn master(index: &MediaIndex, session_keys: &[&TrackKey]) -> String {
    let video = index.served(TrackKind::Video).next();
    let version = if video.is_some_and(|v| v.captions.cea708) {
        7
    } else if !session_keys.is_empty() {
        5
    } else {
        1
    };
    let mut out = format!("#EXTM3U\n#EXT-X-VERSION:{version}\n");
    if video.is_none_or(|v| v.independent) {
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    for k in session_keys {
        out.push_str(&key_line(k).replacen("#EXT-X-KEY:", "#EXT-X-SESSION-KEY:", 1));
        out.push('\n');
    }
    let tracks = audio_tracks(index);
    let groups = audio_groups(&tracks);
    let subs: Vec<&Track> = index.served(TrackKind::Subtitle).collect();
    write_subtitle_media(&mut out, &subs);
    let has_subs = !subs.is_empty();
    let Some(v) = video else {
        // Audio only: one variant per audio rendition, every player's codec first.
        let mut renditions: Vec<&Track> = Vec::new();
        for t in groups.iter().flat_map(|g| g.members.iter().copied()) {
            if !renditions.iter().any(|r| r.id == t.id) {
                renditions.push(t);
            }
        }
        for t in renditions {
            let codec = t.codec_string().unwrap_or_default();
            write_variant(&mut out, rates(t), &[codec], None, None, has_subs, &Resource::MediaPlaylist(t.id).name());
        }
        return out;
    };
    let default = default_audio(&tracks);
    for g in &groups {
        write_audio_media(&mut out, g, &tracks, default);
    }
    write_caption_media(&mut out, v);
    let vr = rates(v);
    let vcodec = v.codec_string().unwrap_or_default();
    let uri = Resource::MediaPlaylist(v.id).name();
    if groups.is_empty() {
        write_variant(&mut out, vr, &[vcodec], Some(v), None, has_subs, &uri);
    }
    for g in &groups {
        let worst = g
            .members
            .iter()
            .map(|t| rates(t))
            .fold(Rates::default(), |a, b| Rates { peak: a.peak.max(b.peak), average: a.average.max(b.average) });
        let bw = Rates { peak: vr.peak + worst.peak, average: vr.average + worst.average };
        let mut codecs = vec![vcodec];
        codecs.extend(g.codecs());
        write_variant(&mut out, bw, &codecs, Some(v), Some(&g.id), has_subs, &uri);
    }
    if v.is_fmp4() {
        let (w, h) = v.displayed_size();
        let ir = iframe_rates(v);
        let _ = write!(
            out,
            "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{vcodec}\"",
            ir.peak.ceil() as u64,
            ir.average.ceil() as u64
        );
        if w > 0 && h > 0 {
            let _ = write!(out, ",RESOLUTION={w}x{h}");
        }
        let _ = writeln!(out, ",VIDEO-RANGE={},URI=\"{}\"", video_range(v), Resource::IFramePlaylist(v.id).name());
    }
    out
}

/// Durations (s) of the I-frame playlist's entries: from the keyframe that starts each segment
/// to the next one, the last to the end of the track (the first keyframe plus the segments'
/// total), so they add up to the video's duration. Not the segments' EXTINF: a segment's
/// pictures may start before its keyframe (an HEVC CRA's leading pictures).
fn iframe_seconds(track: &Track) -> Vec<f64> {
    let n = track.segments.len();
    let key = |k: usize| track.map.out(track.segments[k].start_pts);
    let total: u64 = track.segments.iter().map(|s| s.out_duration).sum();
    let Some(first) = (n > 0).then(|| key(0)) else { return Vec::new() };
    let end = first.saturating_add(i64::try_from(total).unwrap_or(i64::MAX));
    (0..n)
        .map(|k| {
            let next = if k + 1 < n { key(k + 1) } else { end };
            track.map.seconds(next.saturating_sub(key(k)).max(0) as u64)
        })
        .collect()
}

/// Bytes of I-frame entry `k`: exact for MP4 sample tables (the keyframe's size and the header
/// of a one-sample fragment), else the whole segment's (an upper bound).
fn iframe_bytes(track: &Track, k: usize) -> u64 {
    let seg = &track.segments[k];
    match &track.reader {
        SampleReader::ByPosition { table } => table
            .sample_size(seg.first as usize)
            .and_then(Result::ok)
            .map_or(seg.bytes, |size| fmp4::media_segment_overhead(1) as u64 + u64::from(size)),
        _ => seg.bytes,
    }
}

/// Peak and average bit rates of the I-frame entries (upper bounds where the keyframes' sizes
/// are not in the index).
fn iframe_rates(track: &Track) -> Rates {
    let mut r = Rates::default();
    let (mut bytes, mut secs) = (0u64, 0f64);
    for (k, d) in iframe_seconds(track).into_iter().enumerate() {
        let b = iframe_bytes(track, k);
        if d > 0.0 {
            r.peak = r.peak.max(b as f64 * 8.0 / d);
        }
        bytes += b;
        secs += d;
    }
    if secs > 0.0 {
        r.average = bytes as f64 * 8.0 / secs;
    }
    r
}

/// The I-frame playlist of a video track (`EXT-X-I-FRAMES-ONLY`, RFC 8216 §4.3.3.6): one entry
/// per media segment, the keyframe that starts it, served alone as its own fMP4 fragment
/// (`tN_iK.m4s`: a `moof` with one sample and its `mdat`, the segment's `tfdt`) after the video's
/// init segment. Each entry is the whole resource, so no `EXT-X-BYTERANGE` is needed. EXTINF is
/// the span from its keyframe to the next entry's (the last one to the end of the track), so
/// the entries add up to the video's duration. Keyframes inside a segment get no
/// entry: a segment is cut at a keyframe near the target duration, so the entries are about
/// that far apart.
pub fn iframes(index: &MediaIndex, track: &Track, key: Option<&TrackKey>) -> String {
    let durations = iframe_seconds(track);
    let target = durations.iter().map(|d| d.round() as u64).max().unwrap_or(1).max(target_duration(index));
    let mut out = String::new();
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-I-FRAMES-ONLY\n#EXT-X-MAP:URI=\"{}\"\n",
        Resource::Init(track.id).name()
    );
    write_key(&mut out, key);
    for (k, d) in durations.iter().enumerate() {
        push_entry(&mut out, *d, Resource::IFrame(track.id, k));
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// `EXT-X-KEY` for an encrypted rendition, written after `EXT-X-MAP`: the key applies to the
/// media segments only, and the init segment stays clear (RFC 8216 §4.3.2.4 applies a key to
/// the `EXT-X-MAP`s that follow it; hls.js and FFmpeg read the init segment in the clear when
/// the map comes first). `IV` is written for a constant IV; without it players use the media
/// sequence number, as the segments were encrypted.
fn key_line(key: &TrackKey) -> String {
    let mut line = format!("#EXT-X-KEY:METHOD={},URI=\"{}\"", key.method.name(), key.uri);
    if let IvPolicy::Constant(iv) = key.iv {
        let _ = write!(line, ",IV=0x{}", hex(&iv));
    }
    if let Some(f) = &key.keyformat {
        let _ = write!(line, ",KEYFORMAT=\"{f}\"");
    }
    if let Some(v) = &key.keyformat_versions {
        let _ = write!(line, ",KEYFORMATVERSIONS=\"{v}\"");
    }
    line
}

fn write_key(out: &mut String, key: Option<&TrackKey>) {
    if let Some(k) = key.filter(|k| k.encrypts()) {
        out.push_str(&key_line(k));
        out.push('\n');
    }
}

/// The media playlist of an fMP4 track (`key`: its key, when it is encrypted).
pub fn media(index: &MediaIndex, track: &Track, key: Option<&TrackKey>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:{}\n#EXT-X-PLAYLIST-TYPE:VOD\n{}#EXT-X-MAP:URI=\"{}\"\n",
        target_duration(index),
        if track.independent { "#EXT-X-INDEPENDENT-SEGMENTS\n" } else { "" },
        Resource::Init(track.id).name()
    );
    write_key(&mut out, key);
    for i in 0..track.segments.len() {
        push_entry(&mut out, track.segment_seconds(i), Resource::Segment(track.id, i));
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// The media playlist of a WebVTT subtitle track: the presentation's segment boundaries
/// (`key`: its key, when the caller asked for subtitles to be encrypted too).
pub fn subtitle_media(index: &MediaIndex, track: &Track, key: Option<&TrackKey>) -> String {
    let b = &index.boundaries_us;
    let secs = |k: usize| (b[k + 1] - b[k]) as f64 / 1e6;
    let target = (0..index.segment_count()).map(|k| secs(k).round() as u64).max().unwrap_or(1).max(1);
    let mut out = String::new();
    let version = if key.is_some_and(|k| k.keyformat.is_some()) { 5 } else { 3 };
    let _ =
        write!(out, "#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-PLAYLIST-TYPE:VOD\n");
    write_key(&mut out, key);
    for k in 0..index.segment_count() {
        push_entry(&mut out, secs(k), Resource::Vtt(track.id, k));
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// One media segment's lines: `#EXTINF:<seconds>,` (six decimals, as `{:.6}` writes them) and
/// its name. Written without `fmt`: the 1,200 of a 2-hour MP4 took ~450 µs through `writeln!`,
/// ~150 µs so.
fn push_entry(out: &mut String, seconds: f64, r: Resource) {
    out.push_str("#EXTINF:");
    decimal::push_fixed(out, seconds, 6);
    out.push_str(",\n");
    r.push_name(out);
    out.push('\n');
}

/// `playlist` with `?<query>` appended to every URI it names (the URI lines and the `URI="…"`
/// attributes), so that requests for them carry the query back (a clip's arguments).
pub fn with_uri_query(playlist: &str, query: &str) -> String {
    let mut out = String::with_capacity(playlist.len() + 64 * query.len());
    for line in playlist.lines() {
        if !line.is_empty() && !line.starts_with('#') {
            out.push_str(line);
            out.push('?');
            out.push_str(query);
        } else if let Some(at) = line.find("URI=\"") {
            let start = at + 5;
            let end = line[start..].find('"').map_or(line.len(), |e| start + e);
            out.push_str(&line[..end]);
            out.push('?');
            out.push_str(query);
            out.push_str(&line[end..]);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod uri_query_tests {
    #[test]
    fn every_uri_keeps_the_query() {
        let p = "#EXTM3U\n#EXT-X-MAP:URI=\"t0.mp4\"\n#EXTINF:6.000000,\nt0_0.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(
            super::with_uri_query(p, "clip_from=1000&clip_to=5000"),
            "#EXTM3U\n#EXT-X-MAP:URI=\"t0.mp4?clip_from=1000&clip_to=5000\"\n#EXTINF:6.000000,\nt0_0.m4s?clip_from=1000&clip_to=5000\n#EXT-X-ENDLIST\n"
        );
    }
}

//! Master and media playlists (RFC 8216), written from the index alone: no file access.

use std::collections::HashSet;
use std::fmt::Write;

use crate::codec::picture::{TRANSFER_HLG, TRANSFER_PQ};
use crate::model::media_index::MediaIndex;
use crate::model::names::Resource;
use crate::model::track::{Track, TrackKind};

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

/// Unique, human NAME for a rendition within its group.
fn rendition_name(track: &Track, used: &mut HashSet<String>) -> String {
    let base = track.title.clone().or_else(|| track.language.clone()).unwrap_or_else(|| {
        format!("{} {}", if track.kind == TrackKind::Audio { "Audio" } else { "Subtitles" }, track.stream)
    });
    let base = quoted(&base);
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base} ({n})");
        n += 1;
    }
    name
}

/// Index into `tracks` of the group's default: the stream flagged default, else the first.
fn default_of(tracks: &[&Track]) -> usize {
    tracks.iter().position(|t| t.default).unwrap_or(0)
}

struct AudioGroup<'a> {
    id: String,
    codec: String,
    tracks: Vec<&'a Track>,
}

fn audio_groups(index: &MediaIndex) -> Vec<AudioGroup<'_>> {
    let mut groups: Vec<AudioGroup<'_>> = Vec::new();
    for t in index.served(TrackKind::Audio) {
        let codec = t.codec_string().unwrap_or_default().to_string();
        match groups.iter_mut().find(|g| g.codec == codec) {
            Some(g) => g.tracks.push(t),
            None => {
                let id = format!("aud{}", groups.len());
                groups.push(AudioGroup { id, codec, tracks: vec![t] });
            }
        }
    }
    groups
}

fn write_audio_media(out: &mut String, g: &AudioGroup<'_>) {
    let mut used = HashSet::new();
    let def = default_of(&g.tracks);
    for (i, t) in g.tracks.iter().enumerate() {
        let _ = write!(out, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{}\",NAME=\"{}\"", g.id, rendition_name(t, &mut used));
        if let Some(l) = &t.language {
            let _ = write!(out, ",LANGUAGE=\"{}\"", quoted(l));
        }
        let _ = writeln!(
            out,
            ",DEFAULT={},AUTOSELECT=YES,CHANNELS=\"{}\",URI=\"{}\"",
            if i == def { "YES" } else { "NO" },
            t.channels.max(1),
            Resource::MediaPlaylist(t.id).name()
        );
    }
}

fn write_subtitle_media(out: &mut String, subs: &[&Track]) {
    let mut used = HashSet::new();
    let def = subs.iter().position(|t| t.default);
    for (i, t) in subs.iter().enumerate() {
        let _ = write!(out, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"{}\"", rendition_name(t, &mut used));
        if let Some(l) = &t.language {
            let _ = write!(out, ",LANGUAGE=\"{}\"", quoted(l));
        }
        let is_default = def == Some(i);
        let _ = writeln!(
            out,
            ",DEFAULT={},AUTOSELECT={},FORCED={},URI=\"{}\"",
            if is_default { "YES" } else { "NO" },
            if is_default || t.forced || t.language.is_some() { "YES" } else { "NO" },
            if t.forced { "YES" } else { "NO" },
            Resource::MediaPlaylist(t.id).name()
        );
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

/// The master playlist.
pub fn master(index: &MediaIndex) -> String {
    let video = index.served(TrackKind::Video).next();
    let version = if video.is_some_and(|v| v.captions.cea708) { 7 } else { 1 };
    let mut out = format!("#EXTM3U\n#EXT-X-VERSION:{version}\n");
    if video.is_none_or(|v| v.independent) {
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }
    let groups = audio_groups(index);
    let subs: Vec<&Track> = index.served(TrackKind::Subtitle).collect();
    write_subtitle_media(&mut out, &subs);
    let has_subs = !subs.is_empty();
    let Some(v) = video else {
        // Audio only: one variant per audio track.
        for t in index.served(TrackKind::Audio) {
            let codec = t.codec_string().unwrap_or_default();
            write_variant(&mut out, rates(t), &[codec], None, None, has_subs, &Resource::MediaPlaylist(t.id).name());
        }
        return out;
    };
    for g in &groups {
        write_audio_media(&mut out, g);
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
            .tracks
            .iter()
            .map(|t| rates(t))
            .fold(Rates::default(), |a, b| Rates { peak: a.peak.max(b.peak), average: a.average.max(b.average) });
        let bw = Rates { peak: vr.peak + worst.peak, average: vr.average + worst.average };
        write_variant(&mut out, bw, &[vcodec, &g.codec], Some(v), Some(&g.id), has_subs, &uri);
    }
    out
}

/// The media playlist of an fMP4 track.
pub fn media(index: &MediaIndex, track: &Track) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:{}\n#EXT-X-PLAYLIST-TYPE:VOD\n{}#EXT-X-MAP:URI=\"{}\"\n",
        target_duration(index),
        if track.independent { "#EXT-X-INDEPENDENT-SEGMENTS\n" } else { "" },
        Resource::Init(track.id).name()
    );
    for i in 0..track.segments.len() {
        let _ = writeln!(out, "#EXTINF:{:.6},\n{}", track.segment_seconds(i), Resource::Segment(track.id, i).name());
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

/// The media playlist of a WebVTT subtitle track: the presentation's segment boundaries.
pub fn subtitle_media(index: &MediaIndex, track: &Track) -> String {
    let b = &index.boundaries_us;
    let secs = |k: usize| (b[k + 1] - b[k]) as f64 / 1e6;
    let target = (0..index.segment_count()).map(|k| secs(k).round() as u64).max().unwrap_or(1).max(1);
    let mut out = String::new();
    let _ = write!(out, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-PLAYLIST-TYPE:VOD\n");
    for k in 0..index.segment_count() {
        let _ = writeln!(out, "#EXTINF:{:.6},\n{}", secs(k), Resource::Vtt(track.id, k).name());
    }
    out.push_str("#EXT-X-ENDLIST\n");
    out
}

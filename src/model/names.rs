//! The names a presentation is served under. Playlists write them and requests are parsed back
//! with the same functions, so "as written" and "as requested" can never disagree.
//!
//! All names sit beside `master.m3u8`: `tN.m3u8`, `tN_init.mp4`, `tN_K.m4s`, `tN_K.vtt`, `tN.vtt`
//! `tN_iframes.m3u8` (the I-frame playlist of video track N) and `tN_iK.m4s` (the keyframe that
//! starts segment K of video track N, alone in its own fMP4 fragment),
//! `thumb_<ms>.jpg` (a JPEG of the picture shown at `<ms>` milliseconds), `thumbnails.vtt` (the
//! WebVTT thumbnail track) and `thumbs_<k>.jpg` (its sprite sheet `k`),
//! where N is the track id (the source stream index, followed by `a` for the extra AAC
//! rendition made beside an AC-3/E-AC-3/MP3 track) and K the 0-based segment number.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{Error, ErrorKind, Result};
use crate::util::decimal;

/// Which rendition a name refers to: a source stream, or the AAC rendition made from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrackId {
    /// Source stream index.
    pub stream: usize,
    /// The extra AAC rendition made from that stream (beside its passthrough).
    pub aac: bool,
}

impl TrackId {
    /// The rendition of source stream `stream` itself.
    pub fn source(stream: usize) -> TrackId {
        TrackId { stream, aac: false }
    }
}

impl From<usize> for TrackId {
    fn from(stream: usize) -> TrackId {
        TrackId::source(stream)
    }
}

impl fmt::Display for TrackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.stream, if self.aac { "a" } else { "" })
    }
}

/// A parsed request name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `master.m3u8`.
    Master,
    /// `tN.m3u8`: media playlist of track N.
    MediaPlaylist(TrackId),
    /// `tN_init.mp4`: fMP4 init segment of track N.
    Init(TrackId),
    /// `tN_K.m4s`: fMP4 media segment K of track N.
    Segment(TrackId, usize),
    /// `tN_K.vtt`: WebVTT segment K of subtitle track N.
    Vtt(TrackId, usize),
    /// `tN.vtt`: the whole subtitle track N as one WebVTT file.
    VttFull(TrackId),
    /// `tN_iframes.m3u8`: the I-frame playlist (`EXT-X-I-FRAMES-ONLY`) of video track N.
    IFramePlaylist(TrackId),
    /// `tN_iK.m4s`: the keyframe that starts media segment K of video track N, alone in one
    /// fMP4 fragment (moof with one sample + mdat).
    IFrame(TrackId, usize),
    /// `thumb_<ms>.jpg`: a JPEG of the picture shown at `<ms>` milliseconds of the playlist
    /// timeline (the keyframe at or before that time).
    Thumbnail(u64),
    /// `thumbnails.vtt`: the WebVTT thumbnail track (cues pointing at sprite sheet tiles).
    ThumbnailTrack,
    /// `thumbs_<k>.jpg`: sprite sheet `k` of the thumbnail track.
    ThumbnailSheet(u64),
}

/// Name of the WebVTT thumbnail track.
pub const THUMBNAIL_TRACK: &str = "thumbnails.vtt";

/// Name of the master playlist.
pub const MASTER: &str = "master.m3u8";

/// The one spelling of a resource (what [`Resource::name`] returns).
impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Resource::Master => f.write_str(MASTER),
            Resource::MediaPlaylist(n) => write!(f, "t{n}.m3u8"),
            Resource::Init(n) => write!(f, "t{n}_init.mp4"),
            Resource::Segment(n, k) => write_numbered(f, n, "_", k, ".m4s"),
            Resource::Vtt(n, k) => write_numbered(f, n, "_", k, ".vtt"),
            Resource::VttFull(n) => write!(f, "t{n}.vtt"),
            Resource::IFramePlaylist(n) => write!(f, "t{n}_iframes.m3u8"),
            Resource::IFrame(n, k) => write_numbered(f, n, "_i", k, ".m4s"),
            Resource::Thumbnail(ms) => write!(f, "thumb_{ms}.jpg"),
            Resource::ThumbnailTrack => f.write_str(THUMBNAIL_TRACK),
            Resource::ThumbnailSheet(k) => write!(f, "thumbs_{k}.jpg"),
        }
    }
}

/// `t<n><between><k><ext>`: the name of a track's numbered resource (segment, WebVTT segment,
/// keyframe), written without the formatting machinery into a `Formatter` or straight into a
/// playlist (see [`Resource::push_name`]).
fn write_numbered<W: fmt::Write>(w: &mut W, n: TrackId, between: &str, k: usize, ext: &str) -> fmt::Result {
    let mut buf = [0; 20];
    w.write_str("t")?;
    w.write_str(decimal::uint(n.stream as u64, &mut buf))?;
    if n.aac {
        w.write_str("a")?;
    }
    w.write_str(between)?;
    w.write_str(decimal::uint(k as u64, &mut buf))?;
    w.write_str(ext)
}

/// Whether `r` is spelled `name`, found without making its name: every request parses its name
/// and checks the spelling, and the `String` that [`Resource::name`] allocates was a third of
/// the parse on a warm hit (nginx module, 2-hour MP4).
fn spelled(r: &Resource, name: &str) -> bool {
    /// Consumes the expected text as the spelling is written; fails at the first difference.
    struct Match<'a>(&'a str);
    impl fmt::Write for Match<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 = self.0.strip_prefix(s).ok_or(fmt::Error)?;
            Ok(())
        }
    }
    let mut m = Match(name);
    fmt::write(&mut m, format_args!("{r}")).is_ok() && m.0.is_empty()
}

impl Resource {
    /// The one spelling of this resource.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// Appends [`Resource::name`] to `out`: a media playlist names 1,200 segments for 2 hours
    /// (no `String` each, and segment names without `fmt`).
    pub(crate) fn push_name(&self, out: &mut String) {
        let _ = match *self {
            Resource::Segment(n, k) => write_numbered(out, n, "_", k, ".m4s"),
            Resource::Vtt(n, k) => write_numbered(out, n, "_", k, ".vtt"),
            Resource::IFrame(n, k) => write_numbered(out, n, "_i", k, ".m4s"),
            _ => fmt::write(out, format_args!("{self}")),
        };
    }

    /// True for playlists (served by `hls_playlist`).
    pub fn is_playlist(&self) -> bool {
        matches!(self, Resource::Master | Resource::MediaPlaylist(_) | Resource::IFramePlaylist(_))
    }

    /// Parses a request name. Malformed names (leading `/`, `..`, a query, control characters)
    /// are `InvalidArgument`; well-formed names that this scheme never writes are `NotFound`.
    pub fn parse(name: &str) -> Result<Resource> {
        if name.is_empty()
            || name.starts_with('/')
            || name.contains('?')
            || name.contains('#')
            || name.split('/').any(|p| p == ".." || p == ".")
            || name.chars().any(|c| c.is_control() || c == '\\')
        {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "'{}' is not a valid relative name (no leading '/', '..', query or control characters)",
                    name.escape_debug()
                ),
            ));
        }
        let parsed = Self::parse_shape(name).ok_or_else(|| Error::not_found(name))?;
        // Only the canonical spelling is a name (t01.m3u8 is not t1.m3u8).
        if !spelled(&parsed, name) {
            return Err(Error::not_found(name));
        }
        Ok(parsed)
    }

    fn parse_shape(name: &str) -> Option<Resource> {
        if name == MASTER {
            return Some(Resource::Master);
        }
        if name == THUMBNAIL_TRACK {
            return Some(Resource::ThumbnailTrack);
        }
        let num = |s: &str| -> Option<usize> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() < 10).then(|| s.parse().ok()).flatten()
        };
        if let Some(ms) = name.strip_prefix("thumb_").and_then(|r| r.strip_suffix(".jpg")) {
            return Some(Resource::Thumbnail(num(ms)? as u64));
        }
        if let Some(k) = name.strip_prefix("thumbs_").and_then(|r| r.strip_suffix(".jpg")) {
            return Some(Resource::ThumbnailSheet(num(k)? as u64));
        }
        let rest = name.strip_prefix('t')?;
        let (stem, ext) = rest.rsplit_once('.')?;
        let id = |s: &str| -> Option<TrackId> {
            match s.strip_suffix('a') {
                Some(n) => Some(TrackId { stream: num(n)?, aac: true }),
                None => Some(TrackId { stream: num(s)?, aac: false }),
            }
        };
        match (stem.split_once('_'), ext) {
            (None, "m3u8") => Some(Resource::MediaPlaylist(id(stem)?)),
            (None, "vtt") => Some(Resource::VttFull(id(stem)?)),
            (Some((n, "init")), "mp4") => Some(Resource::Init(id(n)?)),
            (Some((n, "iframes")), "m3u8") => Some(Resource::IFramePlaylist(id(n)?)),
            (Some((n, k)), "m4s") if k.starts_with('i') => Some(Resource::IFrame(id(n)?, num(&k[1..])?)),
            (Some((n, k)), "m4s") => Some(Resource::Segment(id(n)?, num(k)?)),
            (Some((n, k)), "vtt") => Some(Resource::Vtt(id(n)?, num(k)?)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for r in [
            Resource::Master,
            Resource::MediaPlaylist(3.into()),
            Resource::Init(0.into()),
            Resource::Segment(1.into(), 42),
            Resource::Segment(TrackId { stream: 2, aac: true }, 7),
            Resource::MediaPlaylist(TrackId { stream: 2, aac: true }),
            Resource::Vtt(5.into(), 0),
            Resource::VttFull(5.into()),
            Resource::IFramePlaylist(0.into()),
            Resource::IFrame(0.into(), 12),
            Resource::Thumbnail(0),
            Resource::Thumbnail(7_199_999),
            Resource::ThumbnailTrack,
            Resource::ThumbnailSheet(28),
        ] {
            assert_eq!(Resource::parse(&r.name()).unwrap(), r);
        }
    }

    /// Names written into a playlist are the names: numbered ones spelled as `format!` would
    /// (any track, AAC rendition, segment number), the others through `Display`.
    #[test]
    fn pushed_names_are_the_names() {
        let mut out = String::new();
        let mut want = String::new();
        for stream in [0, 1, 9, 10, 123, usize::MAX] {
            for aac in [false, true] {
                let n = TrackId { stream, aac };
                let a = if aac { "a" } else { "" };
                for k in [0, 1, 9, 10, 99, 100, 3_599, 1_000_000, usize::MAX] {
                    for (r, spelled) in [
                        (Resource::Segment(n, k), format!("t{stream}{a}_{k}.m4s")),
                        (Resource::Vtt(n, k), format!("t{stream}{a}_{k}.vtt")),
                        (Resource::IFrame(n, k), format!("t{stream}{a}_i{k}.m4s")),
                    ] {
                        assert_eq!(r.name(), spelled);
                        r.push_name(&mut out);
                        want.push_str(&spelled);
                    }
                }
                for r in [Resource::MediaPlaylist(n), Resource::Init(n), Resource::VttFull(n), Resource::Master] {
                    r.push_name(&mut out);
                    want.push_str(&r.name());
                }
            }
        }
        assert_eq!(out, want);
    }

    #[test]
    fn rejects_bad_and_unknown_names() {
        assert_eq!(Resource::parse("../x").unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(Resource::parse("/master.m3u8").unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(Resource::parse("master.m3u8?x=1").unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(Resource::parse("").unwrap_err().kind, ErrorKind::InvalidArgument);
        assert_eq!(Resource::parse("t01.m3u8").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("nope.m3u8").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("t1_x.m4s").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("t1_+1.m4s").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("t1aa.m3u8").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("ta.m3u8").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("t0_i.m4s").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("t0_i01.m4s").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("t0_iframe.m3u8").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("thumb_012.jpg").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("thumb_.jpg").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("thumb_-5.jpg").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("thumbs_1.png").unwrap_err().kind, ErrorKind::NotFound);
        assert_eq!(Resource::parse("thumbnail.vtt").unwrap_err().kind, ErrorKind::NotFound);
    }

    /// The spelling check without an allocation says what comparing with `name()` says: for
    /// every shape that parses, canonical or not (leading zeros, a longer or shorter spelling).
    #[test]
    fn spelled_agrees_with_name() {
        let mut names = Vec::new();
        for base in [
            "master.m3u8",
            "thumbnails.vtt",
            "t3.m3u8",
            "t2a.m3u8",
            "t0_init.mp4",
            "t1_42.m4s",
            "t2a_7.m4s",
            "t5_0.vtt",
            "t5.vtt",
            "t0_iframes.m3u8",
            "t0_i12.m4s",
            "thumb_7199999.jpg",
            "thumbs_28.jpg",
        ] {
            names.push(base.to_string());
            // a zero before each digit run, and the name cut or extended by one character
            for (i, c) in base.char_indices() {
                if c.is_ascii_digit() {
                    names.push(format!("{}0{}", &base[..i], &base[i..]));
                }
            }
            names.push(base[..base.len() - 1].to_string());
            names.push(format!("{base}x"));
        }
        let mut checked = 0;
        for name in &names {
            if let Some(r) = Resource::parse_shape(name) {
                assert_eq!(spelled(&r, name), r.name() == *name, "{name}");
                checked += 1;
            }
        }
        assert!(checked > 30, "{checked} shapes checked");
        assert!(spelled(&Resource::Segment(1.into(), 42), "t1_42.m4s"));
        assert!(!spelled(&Resource::Segment(1.into(), 42), "t1_042.m4s"));
    }
}

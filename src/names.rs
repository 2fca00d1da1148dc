//! The names a presentation is served under. Playlists write them and requests are parsed back
//! with the same functions, so "as written" and "as requested" can never disagree.
//!
//! All names sit beside `master.m3u8`: `tN.m3u8`, `tN_init.mp4`, `tN_K.m4s`, `tN_K.vtt`, `tN.vtt`
//! where N is the source stream index and K the 0-based segment number.

use crate::error::{Error, ErrorKind, Result};

/// A parsed request name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `master.m3u8`.
    Master,
    /// `tN.m3u8`: media playlist of stream N.
    MediaPlaylist(usize),
    /// `tN_init.mp4`: fMP4 init segment of stream N.
    Init(usize),
    /// `tN_K.m4s`: fMP4 media segment K of stream N.
    Segment(usize, usize),
    /// `tN_K.vtt`: WebVTT segment K of subtitle stream N.
    Vtt(usize, usize),
    /// `tN.vtt`: the whole subtitle track N as one WebVTT file.
    VttFull(usize),
}

/// Name of the master playlist.
pub const MASTER: &str = "master.m3u8";

impl Resource {
    /// The one spelling of this resource.
    pub fn name(&self) -> String {
        match *self {
            Resource::Master => MASTER.to_string(),
            Resource::MediaPlaylist(n) => format!("t{n}.m3u8"),
            Resource::Init(n) => format!("t{n}_init.mp4"),
            Resource::Segment(n, k) => format!("t{n}_{k}.m4s"),
            Resource::Vtt(n, k) => format!("t{n}_{k}.vtt"),
            Resource::VttFull(n) => format!("t{n}.vtt"),
        }
    }

    /// True for playlists (served by `hls_playlist`).
    pub fn is_playlist(&self) -> bool {
        matches!(self, Resource::Master | Resource::MediaPlaylist(_))
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
                format!("'{}' is not a valid relative name (no leading '/', '..', query or control characters)", name.escape_debug()),
            ));
        }
        let parsed = Self::parse_shape(name).ok_or_else(|| Error::not_found(name))?;
        // Only the canonical spelling is a name (t01.m3u8 is not t1.m3u8).
        if parsed.name() != name {
            return Err(Error::not_found(name));
        }
        Ok(parsed)
    }

    fn parse_shape(name: &str) -> Option<Resource> {
        if name == MASTER {
            return Some(Resource::Master);
        }
        let rest = name.strip_prefix('t')?;
        let (stem, ext) = rest.rsplit_once('.')?;
        let num = |s: &str| -> Option<usize> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.len() < 10).then(|| s.parse().ok()).flatten()
        };
        match (stem.split_once('_'), ext) {
            (None, "m3u8") => Some(Resource::MediaPlaylist(num(stem)?)),
            (None, "vtt") => Some(Resource::VttFull(num(stem)?)),
            (Some((n, "init")), "mp4") => Some(Resource::Init(num(n)?)),
            (Some((n, k)), "m4s") => Some(Resource::Segment(num(n)?, num(k)?)),
            (Some((n, k)), "vtt") => Some(Resource::Vtt(num(n)?, num(k)?)),
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
            Resource::MediaPlaylist(3),
            Resource::Init(0),
            Resource::Segment(1, 42),
            Resource::Vtt(5, 0),
            Resource::VttFull(5),
        ] {
            assert_eq!(Resource::parse(&r.name()).unwrap(), r);
        }
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
    }
}

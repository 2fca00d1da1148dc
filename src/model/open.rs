//! How one media is opened: the options that make its presentation differ from the whole file
//! served in the clear, and the key the registry and the cache tell presentations apart by.
//!
//! Options are plain values. Two opens of one file with equal options share one index and one
//! set of cache entries; with different options (a clip, keys) they are different presentations
//! and never share cached bytes.

use std::path::PathBuf;
use std::sync::Arc;

/// Per-open options (`HlsOpenOptions` in C). The default is the whole file, in the clear.
///
/// Every field takes part in equality and hashing: whatever changes the bytes served must be
/// here, so that the registry and the cache keep such presentations apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct OpenOptions {
    // --- encryption (issue #17) ---
    /// Keys for this open (a static key or a provider), overriding the context's key provider.
    /// None: the context's provider if it has one, else the clear.
    pub encryption: Option<crate::model::encryption::Encryption>,
    // --- end encryption ---
    // --- clip ---
    /// Serve only `[from, to)` of the media (`None`: the whole file).
    pub clip: Option<Clip>,
    /// Appended as `?<query>` to every URI the playlists write (`None`: nothing), so that a
    /// server that opens presentations by query arguments (a clip's `clip_from=…&clip_to=…`)
    /// gets them back on every request. Names are parsed without it.
    pub uri_query: Option<String>,
}

impl OpenOptions {
    /// True for the default options (the whole file, in the clear).
    pub fn is_default(&self) -> bool {
        *self == OpenOptions::default()
    }
}

/// Where a media's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// A local file, by path.
    Path(PathBuf),
    /// A caller-supplied source (`hls_open_source`), by its identity string (URL + ETag, say):
    /// a new identity is a new presentation.
    Source(String),
}

impl Location {
    /// How the location is named in messages and the info JSON.
    pub fn describe(&self) -> String {
        match self {
            Location::Path(p) => p.display().to_string(),
            Location::Source(identity) => identity.clone(),
        }
    }
}

/// What the registry of opened media is keyed by: where the bytes come from and how they are
/// presented.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MediaKey {
    /// Where the bytes come from.
    pub location: Location,
    /// How they are presented (shared with the cache keys of this presentation).
    pub options: Arc<OpenOptions>,
}

// --- clip ---

/// Where a clip starts (see [`Clip`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClipPolicy {
    /// The clip starts at the keyframe at or before `from`; the init segments' edit lists hide
    /// what precedes `from`, so players that apply edit lists start exactly at `from`.
    #[default]
    KeyframeAligned,
    /// The clip starts at the first keyframe at or after `from` (no frame is hidden).
    KeyframeForward,
}

impl ClipPolicy {
    /// How the info JSON names it.
    pub fn name(self) -> &'static str {
        match self {
            ClipPolicy::KeyframeAligned => "keyframe-aligned",
            ClipPolicy::KeyframeForward => "keyframe-forward",
        }
    }
}

/// A clipped presentation: the media's `[from_ms, to_ms)` (milliseconds of the source's
/// presentation timeline; `to_ms` `None` = the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Clip {
    /// Start, in milliseconds.
    pub from_ms: u64,
    /// End (exclusive), in milliseconds; `None`: the end of the media.
    pub to_ms: Option<u64>,
    /// Where the clip starts relative to the keyframes.
    pub policy: ClipPolicy,
}

impl Clip {
    /// Start in microseconds.
    pub fn from_us(&self) -> i64 {
        (self.from_ms.min(i64::MAX as u64 / 1000) * 1000) as i64
    }
    /// End in microseconds (`i64::MAX` for the end of the media).
    pub fn to_us(&self) -> i64 {
        self.to_ms.map_or(i64::MAX, |t| (t.min(i64::MAX as u64 / 1000) * 1000) as i64)
    }
}

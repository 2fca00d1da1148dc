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
pub struct OpenOptions {}

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

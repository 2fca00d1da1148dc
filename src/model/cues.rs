//! Cue lists of text subtitle tracks: extracted once, queried per segment. A track's cues are
//! extracted while the media is indexed, or, where the container says where every subtitle
//! block is without reading it (MP4 sample tables; the Cues of FFmpeg's and mkvmerge's
//! Matroska files), read once on first use ([`Cues`]): the playlists never need them, and a
//! 2-hour film's two subtitle tracks are ~7,000 small reads and as many decoder calls that an
//! open of its video would otherwise pay for.

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::container::read::ByteSource;
use crate::error::Result;

/// One cue: times in microseconds on the source's presentation timeline,
/// payload already WebVTT cue text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cue {
    /// Start of display, microseconds (inclusive).
    pub start_us: i64,
    /// End of display, microseconds (exclusive).
    pub end_us: i64,
    /// WebVTT cue payload (escaped text with `<b>`, `<i>`, `<u>` tags and
    /// `\n` line breaks, never containing an empty line).
    pub text: String,
}

/// All cues of one text track, sorted by start, with an O(log n + k) overlap
/// lookup.
///
/// Overlap queries use a max-end tree over the start-sorted cues, so a few
/// very long cues (a song lyric lasting the whole film) do not slow down the
/// lookup for every segment.
#[derive(Debug, Clone, Default)]
pub struct CueTrack {
    cues: Vec<Cue>,
    /// Implicit binary tree: node `p` holds the maximum `end_us` of its
    /// leaves; leaf `i` (cue `i`) is node `leaves + i`.
    max_end: Vec<i64>,
    leaves: usize,
}

impl CueTrack {
    /// Builds a track: drops cues that are empty or have no positive length,
    /// then sorts by start (stable, so equal starts keep their order).
    pub fn new(mut cues: Vec<Cue>) -> CueTrack {
        cues.retain(|c| c.end_us > c.start_us && !c.text.trim().is_empty());
        cues.sort_by_key(|c| c.start_us);
        cues.shrink_to_fit();
        cues.iter_mut().for_each(|c| c.text.shrink_to_fit());
        let (max_end, leaves) = build_max_end_tree(&cues);
        CueTrack { cues, max_end, leaves }
    }

    /// All cues, sorted by start.
    pub fn cues(&self) -> &[Cue] {
        &self.cues
    }

    /// Number of cues.
    pub fn len(&self) -> usize {
        self.cues.len()
    }

    /// True when the track has no cue.
    pub fn is_empty(&self) -> bool {
        self.cues.is_empty()
    }

    /// Cues whose `[start, end)` overlaps `[from_us, to_us)`, in start order
    /// (a cue spanning a boundary is returned for both segments).
    pub fn overlapping(&self, from_us: i64, to_us: i64) -> impl Iterator<Item = &Cue> + '_ {
        let mut found = Vec::new();
        if from_us < to_us {
            let limit = self.cues.partition_point(|c| c.start_us < to_us);
            self.collect_ending_after(1, 0, self.leaves, limit, from_us, &mut found);
        }
        found.into_iter().filter_map(move |i| self.cues.get(i))
    }

    /// Approximate heap + inline size of the track, in bytes.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.cues.capacity() * std::mem::size_of::<Cue>()
            + self.cues.iter().map(|c| c.text.capacity()).sum::<usize>()
            + self.max_end.capacity() * std::mem::size_of::<i64>()
    }

    /// Pushes (in index order) the cues below `limit` in the subtree `node`
    /// (covering cues `lo .. lo + width`) whose end is after `from_us`.
    fn collect_ending_after(
        &self,
        node: usize,
        lo: usize,
        width: usize,
        limit: usize,
        from_us: i64,
        out: &mut Vec<usize>,
    ) {
        let ends_after = self.max_end.get(node).is_some_and(|&m| m > from_us);
        if lo >= limit || !ends_after {
            return;
        }
        if width <= 1 {
            out.push(lo);
            return;
        }
        let half = width / 2;
        self.collect_ending_after(2 * node, lo, half, limit, from_us, out);
        self.collect_ending_after(2 * node + 1, lo + half, half, limit, from_us, out);
    }
}

/// Builds the max-end tree of [`CueTrack`]; returns it and its leaf count.
fn build_max_end_tree(cues: &[Cue]) -> (Vec<i64>, usize) {
    if cues.is_empty() {
        return (Vec::new(), 0);
    }
    let leaves = cues.len().next_power_of_two();
    let mut tree = vec![i64::MIN; 2 * leaves];
    for (slot, cue) in tree[leaves..].iter_mut().zip(cues) {
        *slot = cue.end_us;
    }
    for p in (1..leaves).rev() {
        tree[p] = tree[2 * p].max(tree[2 * p + 1]);
    }
    (tree, leaves)
}

impl Serialize for CueTrack {
    /// The cues only: the overlap tree is rebuilt when read.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.cues.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CueTrack {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<CueTrack, D::Error> {
        Vec::<Cue>::deserialize(d).map(CueTrack::new)
    }
}

/// Reads a subtitle track's cues from its media when they are first asked for ([`Cues`]).
pub trait CueSource: Send + Sync {
    /// Every cue of the track, read from `file` (the media's source, the file that was indexed):
    /// exactly what extracting them at indexing would have given.
    fn read(&self, file: &ByteSource) -> Result<CueTrack>;
}

/// [`CueSource`] whose cues are then transformed (a clip's cut and shift).
struct Mapped<F> {
    source: Box<dyn CueSource>,
    map: F,
}

impl<F: Fn(&CueTrack) -> CueTrack + Send + Sync> CueSource for Mapped<F> {
    fn read(&self, file: &ByteSource) -> Result<CueTrack> {
        self.source.read(file).map(|t| (self.map)(&t))
    }
}

/// A subtitle track's cues: extracted at indexing ([`Cues::new`]), or read from the media on
/// first use ([`Cues::deferred`]), once: concurrent first requests wait for one read, and a
/// read that fails (an I/O error, the file changed) is not kept, so the next request reads
/// again.
pub struct Cues {
    track: OnceLock<Arc<CueTrack>>,
    source: Option<Box<dyn CueSource>>,
    /// Held while the cues are read (one read at a time).
    reading: Mutex<()>,
}

impl Cues {
    /// Cues extracted already.
    pub fn new(track: CueTrack) -> Cues {
        Cues { track: OnceLock::from(Arc::new(track)), source: None, reading: Mutex::new(()) }
    }

    /// Cues read by `source` when first asked for.
    pub fn deferred(source: Box<dyn CueSource>) -> Cues {
        Cues { track: OnceLock::new(), source: Some(source), reading: Mutex::new(()) }
    }

    /// The cues, when extracted or read already.
    pub fn loaded(&self) -> Option<&Arc<CueTrack>> {
        self.track.get()
    }

    /// The cues; when they are not read yet, `read` reads them with the track's [`CueSource`]
    /// (the caller gives it the file, and checks that file before and after).
    pub fn get_or_read(&self, read: impl FnOnce(&dyn CueSource) -> Result<CueTrack>) -> Result<&Arc<CueTrack>> {
        if let Some(t) = self.track.get() {
            return Ok(t);
        }
        let _one = self.reading.lock();
        if let Some(t) = self.track.get() {
            return Ok(t);
        }
        let source = self.source.as_deref().ok_or_else(|| crate::error::Error::internal("cues without a source"))?;
        let t = Arc::new(read(source)?);
        Ok(self.track.get_or_init(|| t))
    }

    /// These cues transformed by `map` (now, or after they are read).
    pub fn map(self, map: impl Fn(&CueTrack) -> CueTrack + Send + Sync + 'static) -> Cues {
        match (self.track.into_inner(), self.source) {
            (Some(t), _) => Cues::new(map(&t)),
            (None, Some(source)) => Cues::deferred(Box::new(Mapped { source, map })),
            (None, None) => Cues::new(CueTrack::default()),
        }
    }

    /// Approximate heap + inline size, in bytes (what the cues hold once read).
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.track.get().map_or(0, |t| t.approx_bytes())
    }
}

impl Serialize for Cues {
    /// The cues as [`CueTrack`] writes them; cues not read yet cannot be written (the caller
    /// reads them first: [`Cues::get_or_read`]).
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        match self.track.get() {
            Some(t) => t.serialize(s),
            None => Err(S::Error::custom("subtitle cues not read yet")),
        }
    }
}

impl<'de> Deserialize<'de> for Cues {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Cues, D::Error> {
        CueTrack::deserialize(d).map(Cues::new)
    }
}

//! Cue lists of text subtitle tracks: extracted once at indexing, queried per segment.

use serde::{Deserialize, Serialize};
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
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.cues.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CueTrack {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CueTrack, D::Error> {
        Vec::<Cue>::deserialize(d).map(CueTrack::new)
    }
}

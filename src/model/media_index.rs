//! Everything known about one opened file.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

use crate::container::read::ByteSource;
use crate::error::Result;
use crate::model::identity::FileIdentity;
use crate::model::names::TrackId;
use crate::model::segment::{SampleTable, Segment};
use crate::model::track::{Delivery, Track, TrackKind};

/// What an index was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexSource {
    /// MP4 sample tables (every sample's position, size and times; no packet read).
    SampleTables,
    /// MP4 movie fragments: the `moof` boxes of a fragmented file (every sample's position,
    /// size and times; no packet read).
    MovieFragments,
    /// Matroska Cues, plus the block headers around each segment boundary.
    MatroskaCues,
    /// One pass over every packet (containers without an index).
    PacketScan,
}

impl IndexSource {
    /// How the info JSON names it.
    pub fn name(self) -> &'static str {
        match self {
            IndexSource::SampleTables => "mp4 sample tables",
            IndexSource::MovieFragments => "mp4 movie fragments",
            IndexSource::MatroskaCues => "matroska cues",
            IndexSource::PacketScan => "packet scan",
        }
    }
    /// The demuxer's timestamps are exact and seeks land on the asked sample (MP4 sample
    /// tables): segments read through FFmpeg select packets by time.
    pub fn exact_timestamps(self) -> bool {
        self == IndexSource::SampleTables
    }
}

/// Everything known about one opened file.
#[derive(Serialize, Deserialize)]
pub struct MediaIndex {
    /// The file.
    pub path: PathBuf,
    /// Its identity when indexed.
    pub identity: FileIdentity,
    /// Container format name.
    pub format: String,
    /// Presentation duration in microseconds.
    pub duration_us: i64,
    /// Every source stream.
    pub tracks: Vec<Track>,
    /// Segment boundaries on the presentation timeline (µs): `boundaries[k]..boundaries[k+1]` is
    /// segment k of every rendition; `len = segments + 1`.
    pub boundaries_us: Vec<i64>,
    /// 90 kHz value of source time 0 on the fMP4 timeline (for `X-TIMESTAMP-MAP`).
    pub mpegts_origin: u64,
    /// The presentation-wide shift `C` (output time - source time) in microseconds.
    pub shift_us: i64,
    /// Matroska planned from Cues: what the block walker needs to read segments (no Cues kept).
    pub matroska: Option<crate::container::mkv::Layout>,
    /// What the index was built from.
    pub indexed_from: IndexSource,
    /// Time spent indexing (or reading the persisted index).
    pub index_time: Duration,
}

impl MediaIndex {
    /// The track (rendition) `id`.
    pub fn track(&self, id: impl Into<TrackId>) -> Option<&Track> {
        let id = id.into();
        self.tracks.iter().find(|t| t.id == id)
    }
    /// Served fMP4 tracks of a kind.
    pub fn served(&self, kind: TrackKind) -> impl Iterator<Item = &Track> {
        self.tracks.iter().filter(move |t| t.kind == kind && t.is_served())
    }
    /// The demuxer's timestamps are exact and seeks land on the asked sample (MP4 sample
    /// tables): segments read through FFmpeg select packets by time.
    pub fn exact_timestamps(&self) -> bool {
        self.indexed_from.exact_timestamps()
    }
    /// Number of segments every rendition is cut into.
    pub fn segment_count(&self) -> usize {
        self.boundaries_us.len().saturating_sub(1)
    }
    /// The sample tables of every track (those of an index read from disk are read in place),
    /// in track order: what a persisted index stores beside its serialized part.
    pub fn tables(&self) -> Vec<&SampleTable> {
        self.tracks.iter().filter_map(|t| t.reader.table()).collect()
    }

    /// A table of this index failed its checksum (an index read from a damaged file).
    pub fn tables_damaged(&self) -> bool {
        self.tables().iter().any(|t| t.damaged())
    }

    /// Heap bytes held by the index: tracks, segments, sample records and decode times, cues,
    /// segment boundaries (what `max_index_bytes` bounds).
    pub fn heap_bytes(&self) -> u64 {
        use crate::model::segment::SampleRec;
        use crate::model::track::{RangeSeek, SampleReader};
        let rec = std::mem::size_of::<SampleRec>();
        let tracks: usize = self
            .tracks
            .iter()
            .map(|t| {
                std::mem::size_of::<Track>()
                    + match &t.reader {
                        SampleReader::ByPosition { table } => table.heap_len() * rec,
                        SampleReader::Demuxer { decode_ts: Some(d), .. } => d.capacity() * 8,
                        SampleReader::DemuxerRange { seek: RangeSeek::Anchored { table } } => table.heap_len() * rec,
                        _ => 0,
                    }
            })
            .sum();
        (tracks + self.approx_bytes() + self.boundaries_us.capacity() * 8) as u64
    }
    /// Reads the cues of every subtitle track that are not read yet ([`Cues`](crate::model::cues::Cues)
    /// read on first use) from `file`, the file this index was made from: for a whole index
    /// (one written to an index file, or compared).
    pub fn read_cues(&self, file: &ByteSource) -> Result<()> {
        for t in &self.tracks {
            if let Delivery::Cues(c) = &t.delivery {
                c.get_or_read(|source| source.read(file)).map_err(|e| e.context(format!("stream {}", t.stream)))?;
            }
        }
        Ok(())
    }

    /// Approximate heap bytes held by the index (for stats).
    pub fn approx_bytes(&self) -> usize {
        self.tracks
            .iter()
            .map(|t| {
                t.segments.len() * std::mem::size_of::<Segment>()
                    + match &t.delivery {
                        Delivery::Cues(c) => c.approx_bytes(),
                        _ => 0,
                    }
            })
            .sum()
    }
}

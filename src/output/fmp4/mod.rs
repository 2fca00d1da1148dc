//! Fragmented MP4 (ISO/IEC 14496-12, CMAF) init and media segments for one track.
//!
//! The writer is given model values (a [`TrackInit`], [`SampleMeta`]s and the samples' bytes)
//! and returns bytes; it never reads a file or parses a container. The codec configuration
//! records inside the sample entries come from `crate::codec`, which reads the codec's private
//! data; an invalid one is an [`ErrorKind::InvalidMedia`](crate::error::ErrorKind::InvalidMedia)
//! error, a broken argument (a zero track ID, sample sizes that do not add up to the payload,
//! a box over 4 GiB) an `Internal` one.
//!
//! The files, each writing one part of the format:
//!
//! - `types.rs`: the values the writer is given ([`TrackKind`], [`TrackInit`], [`SampleMeta`]),
//!   re-exported here;
//! - `boxes.rs`: `BoxWriter`, the one box writer. Every box is opened with its type, its body
//!   written by a closure, and its size patched in when the box closes; no other code writes a
//!   box size. Full-box headers and 64-bit sizes are written there too;
//! - `init.rs`: the init segment ([`write_init`]): `ftyp`, `moov` (`mvhd`, `trak` with `tkhd`,
//!   `edts`, `mdia`, `mdhd`, `hdlr`, `minf`, an empty `stbl`) and `mvex`/`trex`;
//! - `sample_entry.rs`: the sample entries and their configuration boxes (`avcC`, `hvcC`,
//!   `av1C`, `esds` and its descriptors, `dac3`/`dec3`, `dOps`, `dfLa`);
//! - `fragment.rs`: media segments ([`write_media_segment`]): `moof` (`mfhd`, `traf`, `tfhd`,
//!   `tfdt`, `trun`) and `mdat`, and their size ahead of writing
//!   ([`media_segment_overhead`]), and a segment's first keyframe alone in a fragment of its own
//!   ([`first_sample_fragment`], for I-frame playlists).

mod boxes;
mod cbcs;
mod fragment;
mod init;
mod sample_entry;
mod types;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;

pub use cbcs::{encrypt_segment, encrypt_segment_in_place, encrypt_segment_pieces, growth_estimate};
pub use fragment::{
    first_sample_fragment, first_sample_header, media_segment_overhead, open_gop_keys, segment_samples,
    write_media_segment, write_media_segment_header, ReadSample,
};
pub use init::{write_init, write_init_protected};
pub use types::{NalLayout, Protection, SampleMeta, TrackInit, TrackKind};

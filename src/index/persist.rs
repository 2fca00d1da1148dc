//! The persisted index: one file per indexed media, so that another process, another nginx
//! worker or a restart opens an unchanged file without reading its media.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 0..8 | magic `LIBHLSIX` |
//! | 8..12 | format version ([`FORMAT_VERSION`]) |
//! | 12..16 | header length (64) |
//! | 16..24 | file length |
//! | 24..32 | length of the serialized part (it starts at byte 64) |
//! | 32..40 | where the sample tables start (8-byte aligned) |
//! | 40..48 | `xxh3-64` of the serialized part |
//! | 48..56 | 0 |
//! | 56..64 | `xxh3-64` of bytes 0..56 |
//! | 64.. | the serialized part: [`IndexKey`], the [`MediaIndex`] (postcard) and where each track's sample table is, with one checksum per block of 4096 records |
//! | tables.. | each sample table as its raw 24-byte records, read in place ([`SampleTable::mapped`]) |
//!
//! [`decode_shared`] checks, before anything is used: the magic, the version, the header's
//! checksum, the file length, the serialized part's checksum, and every table's position and
//! record count against the file's length; the records of each block are checked when first
//! read. A hostile file can make it neither panic nor allocate much more than its own size.

#![deny(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::model::identity::FileIdentity;
use crate::model::media_index::MediaIndex;
use crate::model::segment::{block_sums, SampleTable, SharedBytes, SAMPLE_REC_BYTES, TABLE_BLOCK_RECORDS};
use crate::model::track::SampleReader;

/// Version of the layout and of the serialized model: bump it whenever either changes, or
/// indexing gives other results for the same file and settings (an index of another version is
/// ignored and rewritten).
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"LIBHLSIX";
const HEADER_LEN: usize = 64;

/// What an index file must match to be used for a media file: written in it, compared when read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexKey {
    /// Device, inode, size and modification time of the media file.
    pub identity: FileIdentity,
    /// `xxh3-64` of the media file's first and last 4 KiB (the container header of most files;
    /// the `moov` or Cues of many).
    pub head_hash: u64,
    /// The settings the index was built with ([`crate::model::config::Config::index_settings`]).
    pub settings: String,
    /// The library that wrote it (version and a hash of its sources).
    pub library: String,
    /// The media file's path as opened.
    pub path: PathBuf,
}

/// Why an index file was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Shorter or longer than its header says (or shorter than a header).
    Truncated,
    /// Another format version (or not an index file).
    Foreign,
    /// A checksum or a structure does not hold.
    Corrupt(String),
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::Truncated => write!(f, "truncated"),
            Rejected::Foreign => write!(f, "not an index file of format version {FORMAT_VERSION}"),
            Rejected::Corrupt(why) => write!(f, "damaged: {why}"),
        }
    }
}

/// Where one sample table is, relative to the start of the tables.
#[derive(Serialize, Deserialize)]
struct TableEntry {
    offset: u64,
    records: u64,
    sums: Vec<u64>,
}

#[derive(Serialize)]
struct MetaOut<'a> {
    key: &'a IndexKey,
    index: &'a MediaIndex,
    tables: Vec<TableEntry>,
}

#[derive(Deserialize)]
struct MetaIn {
    key: IndexKey,
    index: MediaIndex,
    tables: Vec<TableEntry>,
}

fn hash(b: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(b)
}

/// The bytes of an index file for `index` (built for the file and settings `key` names).
/// Fails when something of the index cannot be persisted (a path that is not UTF-8, decoder
/// parameters with a custom channel order).
pub fn encode(key: &IndexKey, index: &MediaIndex) -> Result<Vec<u8>> {
    let mut tables = Vec::new();
    let mut raw: Vec<Vec<u8>> = Vec::new();
    let mut offset = 0u64;
    for t in index.tables() {
        let bytes = t.to_le_bytes();
        tables.push(TableEntry { offset, records: t.len() as u64, sums: block_sums(&bytes) });
        offset += bytes.len() as u64;
        raw.push(bytes);
    }
    let meta = postcard::to_allocvec(&MetaOut { key, index, tables })
        .map_err(|e| Error::new(ErrorKind::Unsupported, format!("index not persisted: {e}")))?;
    let tables_at = (HEADER_LEN + meta.len()).next_multiple_of(8);
    let len = tables_at + offset as usize;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(HEADER_LEN as u32).to_le_bytes());
    out.extend_from_slice(&(len as u64).to_le_bytes());
    out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    out.extend_from_slice(&(tables_at as u64).to_le_bytes());
    out.extend_from_slice(&hash(&meta).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    let h = hash(&out);
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&meta);
    out.resize(tables_at, 0);
    for r in raw {
        out.extend_from_slice(&r);
    }
    Ok(out)
}

/// An index file of `meta` (a serialized part) and `tables` (raw sample records) with a valid
/// header: the layout [`encode`] writes, around parts given as bytes (the fuzz target's way past
/// the checksums; tests forge hostile files with it).
#[doc(hidden)]
pub fn sealed(meta: &[u8], tables: &[u8]) -> Vec<u8> {
    let tables_at = (HEADER_LEN + meta.len()).next_multiple_of(8);
    let len = tables_at + tables.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(HEADER_LEN as u32).to_le_bytes());
    out.extend_from_slice(&(len as u64).to_le_bytes());
    out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    out.extend_from_slice(&(tables_at as u64).to_le_bytes());
    out.extend_from_slice(&hash(meta).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    let h = hash(&out);
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(meta);
    out.resize(tables_at, 0);
    out.extend_from_slice(tables);
    out
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

/// Decodes an index file held in `bytes` (a copy is made; the sample tables are read from it):
/// the pure entry point, for tests and fuzzing. See [`decode_shared`].
pub fn decode(bytes: &[u8]) -> std::result::Result<(IndexKey, MediaIndex), Rejected> {
    decode_shared(Arc::new(bytes.to_vec()))
}

/// Decodes an index file held in `bytes` (a memory map of the file): every check of the module
/// documentation; the sample tables are read in place when `bytes` is aligned for them (a map
/// is), else copied (and then checked at once).
pub fn decode_shared(bytes: SharedBytes) -> std::result::Result<(IndexKey, MediaIndex), Rejected> {
    let b: &[u8] = (*bytes).as_ref();
    if b.len() < HEADER_LEN {
        return Err(if b.len() >= 12 && &b[..8] == MAGIC { Rejected::Truncated } else { Rejected::Foreign });
    }
    if &b[..8] != MAGIC || u32_at(b, 8) != FORMAT_VERSION || u32_at(b, 12) != HEADER_LEN as u32 {
        return Err(Rejected::Foreign);
    }
    if hash(&b[..56]) != u64_at(b, 56) {
        return Err(Rejected::Corrupt("header checksum".into()));
    }
    if u64_at(b, 16) != b.len() as u64 {
        return Err(Rejected::Truncated);
    }
    let (meta_len, tables_at) = (u64_at(b, 24), u64_at(b, 32));
    let meta_end = (HEADER_LEN as u64).checked_add(meta_len).filter(|&e| e <= tables_at);
    if meta_end.is_none() || tables_at > b.len() as u64 || !tables_at.is_multiple_of(8) {
        return Err(Rejected::Corrupt("layout".into()));
    }
    let (meta_end, tables_at) = (meta_end.unwrap_or(0) as usize, tables_at as usize);
    let meta = &b[HEADER_LEN..meta_end];
    if hash(meta) != u64_at(b, 40) {
        return Err(Rejected::Corrupt("checksum of the serialized index".into()));
    }
    let (m, rest): (MetaIn, _) =
        postcard::take_from_bytes(meta).map_err(|e| Rejected::Corrupt(format!("serialized index: {e}")))?;
    if !rest.is_empty() {
        return Err(Rejected::Corrupt("bytes after the serialized index".into()));
    }
    let MetaIn { key, mut index, tables } = m;
    let area = b.len() - tables_at;
    let slots: Vec<&mut SampleTable> = index.tracks.iter_mut().filter_map(|t| t.reader.table_mut()).collect();
    if slots.len() != tables.len() {
        return Err(Rejected::Corrupt("table count".into()));
    }
    for (slot, e) in slots.into_iter().zip(tables) {
        let size = e.records.checked_mul(SAMPLE_REC_BYTES as u64);
        let end = size.and_then(|s| s.checked_add(e.offset)).filter(|&end| end <= area as u64);
        let (Some(size), Some(_)) = (size, end) else { return Err(Rejected::Corrupt("table outside the file".into())) };
        if e.sums.len() as u64 != e.records.div_ceil(TABLE_BLOCK_RECORDS as u64) {
            return Err(Rejected::Corrupt("table checksums".into()));
        }
        let (at, records) = (tables_at + e.offset as usize, e.records as usize);
        *slot = match SampleTable::mapped(bytes.clone(), at, records, e.sums.clone()) {
            Some(t) => t,
            None => {
                let region = &b[at..at + size as usize];
                if block_sums(region) != e.sums {
                    return Err(Rejected::Corrupt("table checksum".into()));
                }
                SampleTable::copied(region).ok_or_else(|| Rejected::Corrupt("table length".into()))?
            }
        };
    }
    validate(&index).map_err(Rejected::Corrupt)?;
    Ok((key, index))
}

/// What serving relies on and the checksums cannot vouch for (a file written by another
/// program): time bases, and every segment inside its table and the presentation's boundaries.
fn validate(ix: &MediaIndex) -> std::result::Result<(), String> {
    if ix.boundaries_us.is_empty() {
        return Err("no segment boundaries".into());
    }
    for t in &ix.tracks {
        if t.map.num <= 0 || t.map.den <= 0 || t.map.timescale == 0 {
            return Err(format!("stream {}: time base", t.stream));
        }
        if t.is_fmp4() && t.segments.len() > ix.segment_count() {
            return Err(format!("stream {}: more segments than the presentation", t.stream));
        }
        if let SampleReader::ByPosition { table } = &t.reader {
            let end = t.segments.iter().map(|s| s.first as u64 + s.samples as u64).max().unwrap_or(0);
            if end > table.len() as u64 {
                return Err(format!("stream {}: segments past the sample table", t.stream));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_cut_files_are_refused_without_panicking() {
        assert_eq!(decode(b"").err(), Some(Rejected::Foreign));
        assert_eq!(
            decode(b"not an index file at all, just some text that is long enough to have a header").err(),
            Some(Rejected::Foreign)
        );
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        assert_eq!(decode(&header).err(), Some(Rejected::Truncated));
        let mut other = MAGIC.to_vec();
        other.extend_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        other.resize(200, 0);
        assert_eq!(decode(&other).err(), Some(Rejected::Foreign));
    }
}

//! Indexing: everything playlists and segments need, computed once when a file is opened.
//!
//! MP4 files are indexed from their sample tables (no packet is read, except the text subtitle
//! samples and the first sample of AC-3/E-AC-3 tracks); Matroska from its Cues plus the block
//! headers around segment boundaries (`mkvcues`); other containers, and Matroska files whose
//! Cues cannot be used, fall back to one packet scan, in which text subtitle cues are extracted
//! in the same pass.

mod assemble;
mod collect;
mod mkv;
mod mp4;
mod probe;
mod scan;
mod segmenter;
mod track;

use std::fs::File;
use std::path::Path;
use std::time::Instant;

use self::mp4::build_from_mp4;
use self::scan::build_with_ffmpeg;
use crate::container::mp4::{self as mp4index};
use crate::error::{Error, ErrorKind, Result};
use crate::model::config::Config;
use crate::model::identity::FileIdentity;
use crate::model::media_index::MediaIndex;

/// Builds the index of `path`. Opening a large MP4 reads its header only.
pub fn build(path: &Path, identity: FileIdentity, cfg: &Config) -> Result<MediaIndex> {
    let started = Instant::now();
    if identity.size == 0 {
        return Err(Error::media("file is empty (0 bytes)"));
    }
    let file = File::open(path).map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
    match mp4index::read(&file, identity.size) {
        Ok(ix) if !ix.fragmented => {
            if let Some(index) = build_from_mp4(path, identity, cfg, ix, &file, started)? {
                return Ok(index);
            }
        }
        // Fragmented, not ISO-BMFF, or a construct the fast reader leaves to FFmpeg.
        Ok(_) | Err(_) => {}
    }
    build_with_ffmpeg(path, identity, cfg, started)
}

//! libhls: serve any ordinary media file (MP4, MKV, ...) as an HLS VOD presentation on demand:
//! master and media playlists, fMP4/CMAF init and media segments, and WebVTT subtitles.
//!
//! The safe core ([`index`], [`playlist`], [`fmp4`], [`subtitle`], [`transcode`], [`cache`],
//! [`context`]) does the work; [`ffi`] is the C API on top of it (see `include/hls.h`).

#![allow(unsafe_op_in_unsafe_fn)]

pub mod cache;
pub mod codec;
pub mod config;
pub mod context;
pub mod demux;
pub mod error;
pub mod ffi;
pub mod fmp4;
pub mod index;
mod logging;
pub mod media;
mod memhint;
mod mkvcues;
pub mod mkvindex;
pub mod mp4index;
pub mod names;
pub mod playlist;
mod segmenter;
pub mod subtitle;
pub mod timeline;
pub mod transcode;

pub use config::Config;
pub use context::Context;
pub use error::{Error, ErrorKind, Result};

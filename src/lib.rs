//! libhls: serve any ordinary media file (MP4, MKV, ...) as an HLS VOD presentation on demand:
//! master and media playlists, fMP4/CMAF init and media segments, and WebVTT subtitles.
//!
//! Layers, each importing only from the layers below it (see `ARCHITECTURE.md`):
//! [`ffi`] (the C API) → [`engine`] (context, registry, cache, names → bytes) →
//! [`index`] / [`output`] / [`subtitle`] / [`transcode`] / [`thumbnail`] → [`model`] / [`container`] /
//! [`codec`] → [`error`] / `util`.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod codec;
pub mod container;
pub mod engine;
pub mod error;
pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;
pub mod index;
pub mod model;
pub mod output;
pub mod subtitle;
pub mod thumbnail;
pub mod transcode;
mod util;

pub use engine::Context;
pub use error::{Error, ErrorKind, Result};
pub use model::config::Config;

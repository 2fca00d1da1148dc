//! The engine: a context (configuration, registry of opened media, segment cache) and the
//! mapping from a requested name to its bytes.
//!
//! [`context`] holds the registry (single-flight opens, idle retention) and [`cache`] the
//! response cache; [`body`] is a response as bytes and ranges of the source file; [`media`]
//! maps names to bytes, reading samples through `source` (the file
//! handle and demuxer pool of one media); `info` renders the info JSON; `thumbs` makes the
//! scrubbing thumbnails (`thumb_<ms>.jpg`, `thumbnails.vtt`, `thumbs_<k>.jpg`); [`index_dir`]
//! persists indexes (`hls_config_set_index_dir`); `lead` writes a keyframe-aligned clip's hidden
//! lead so that MSE players keep it.

#![deny(unsafe_code)]

pub mod body;
pub mod cache;
pub mod context;
pub mod index_dir;
mod info;
mod lead;
pub mod media;
pub mod pool;
mod source;
mod thumbs;

pub use body::{Body, Parts, Piece};
pub use cache::Bytes;
pub use context::Context;
pub use media::{mime, Cost, Media};

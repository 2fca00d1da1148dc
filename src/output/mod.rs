//! Writers of what players fetch: fMP4 init and media segments, playlists, WebVTT. Writers
//! never parse: they turn model values into bytes.
//!
//! - [`fmp4`]: fragmented MP4 init and media segments (the one box writer is here);
//! - [`playlist`]: master and media playlists (RFC 8216);
//! - [`webvtt`]: WebVTT media segments and whole-track files.

#![deny(unsafe_code)]

pub mod encrypt;
pub mod fmp4;
pub mod playlist;
pub mod webvtt;

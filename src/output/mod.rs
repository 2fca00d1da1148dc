//! Writers of what players fetch: fMP4 init and media segments, playlists, WebVTT. Writers
//! never parse: they turn model values into bytes.

pub mod fmp4;
pub mod playlist;
pub mod webvtt;

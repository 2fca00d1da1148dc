//! The data model: what indexing produces and every writer reads. Plain values, no I/O.
//!
//! A [`media_index::MediaIndex`] holds the [`track::Track`]s of one file, each with its
//! [`segment::Segment`]s, how it is delivered and how its samples are read
//! ([`track::SampleReader`]); [`time`] is the one mapping between source and output timestamps
//! and the one rescaler.

#![deny(unsafe_code)]

pub mod aac;
pub mod config;
pub mod cues;
pub mod encryption;
pub mod identity;
pub mod lang;
pub mod media_index;
pub mod names;
pub mod open;
pub mod segment;
pub mod thumbs;
pub mod time;
pub mod track;

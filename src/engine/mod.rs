//! The engine: a context (configuration, registry of opened media, segment cache) and the
//! mapping from a requested name to its bytes.

pub mod cache;
pub mod context;
pub mod media;

pub use cache::Bytes;
pub use context::Context;
pub use media::{mime, Media};

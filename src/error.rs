//! The one error vocabulary of libhls.
//!
//! - [`Error`] is what the safe core returns: a [`ErrorKind`] (each kind has a fixed C status,
//!   mapped in `ffi`), a message naming the file, stream and cause, and optionally the lower-level
//!   error it came from.
//! - [`ParseError`] is what the readers below the index (codec, container, subtitle and
//!   transcode code) return: just what was wrong with the bytes. It becomes an
//!   [`ErrorKind::InvalidMedia`] [`Error`] through `?` (or [`Error::from_parse`] with another
//!   kind), with the caller adding the file and stream as context.

#![deny(unsafe_code)]

use std::fmt;
use std::sync::Arc;

/// What kind of failure happened; each kind has a fixed C status value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A required pointer argument was NULL.
    NullArgument,
    /// A string argument was not valid UTF-8.
    InvalidUtf8,
    /// A malformed argument (bad config value, name with `..`, `/` prefix or query).
    InvalidArgument,
    /// The requested name is not named by any playlist of this media.
    NotFound,
    /// The file is missing, a directory, or cannot be read.
    Io,
    /// The file is empty, truncated, corrupt or not a media file.
    InvalidMedia,
    /// The file opened, but has no audio or video track that can be served.
    NoPlayableTracks,
    /// The file changed on disk after it was indexed.
    FileChanged,
    /// A codec or feature that is not supported.
    Unsupported,
    /// A Rust panic was caught at the C boundary (a bug in libhls).
    Panic,
    /// Any other internal failure.
    Internal,
    /// The key provider gave no usable key for a track that is to be encrypted (nothing is
    /// served in the clear instead).
    KeyUnavailable,
}

/// A failure with a human-readable message naming the file, stream and cause.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Error {
    /// Category of the failure.
    pub kind: ErrorKind,
    /// Full explanation for logs and callers.
    pub message: String,
    /// The lower-level error this one was made from, if any (for `std::error::Error::source`).
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// Builds an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), source: None }
    }
    /// Builds an error of `kind` whose message is `source`'s, keeping `source` as the cause.
    pub fn with_source(kind: ErrorKind, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error { kind, message: source.to_string(), source: Some(Arc::new(source)) }
    }
    /// An error of `kind` from a reader's [`ParseError`] (kept as the cause).
    pub fn from_parse(kind: ErrorKind, e: ParseError) -> Error {
        Error::with_source(kind, e)
    }
    /// `InvalidMedia` error.
    pub fn media(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidMedia, message)
    }
    /// `NotFound` error for a requested name.
    pub fn not_found(name: &str) -> Error {
        Error::new(ErrorKind::NotFound, format!("'{name}' is not named by any playlist of this media"))
    }
    /// `Internal` error.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }
    /// Prefixes the message with context (e.g. the file path).
    pub fn context(mut self, ctx: impl fmt::Display) -> Error {
        self.message = format!("{ctx}: {}", self.message);
        self
    }
}

/// Two errors are equal when their kind and message are (the cause is not compared).
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A reader's failure: what is wrong with the bytes it was given (codec private data, a box, an
/// EBML element, a subtitle packet, an audio stream). It carries no file or stream name; the
/// caller adds those when it turns it into an [`Error`].
///
/// A failure may also be a *refusal* ([`ParseError::refuse`]): the bytes claim more than the file
/// can hold, or more than the per-open resource ceiling allows. A refused file is not handed to
/// another reader (FFmpeg's demuxers would allocate what it claims); the refusal's kind becomes
/// the [`Error`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    message: String,
    refused: Option<ErrorKind>,
}

impl ParseError {
    /// A parse failure described by `message`.
    pub fn new(message: impl Into<String>) -> ParseError {
        ParseError { message: message.into(), refused: None }
    }
    /// A refusal of `kind` ([`ErrorKind::InvalidMedia`]: the counts contradict the file size;
    /// [`ErrorKind::Unsupported`]: over a resource ceiling) described by `message`.
    pub fn refuse(kind: ErrorKind, message: impl Into<String>) -> ParseError {
        ParseError { message: message.into(), refused: Some(kind) }
    }
    /// The kind of a refusal, `None` for an ordinary parse failure.
    pub fn refused(&self) -> Option<ErrorKind> {
        self.refused
    }
    /// The description.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Prefixes the description with context (the box, element or field being read).
    pub fn context(self, ctx: impl fmt::Display) -> ParseError {
        ParseError { message: format!("{ctx}: {}", self.message), refused: self.refused }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// A reader's failure is, to the caller, invalid media (the bytes are not what they claim), or
/// the kind of its refusal.
impl From<ParseError> for Error {
    fn from(e: ParseError) -> Error {
        Error::from_parse(e.refused.unwrap_or(ErrorKind::InvalidMedia), e)
    }
}

/// Result type of the safe core.
pub type Result<T> = std::result::Result<T, Error>;

/// Result type of the readers.
pub type ParseResult<T> = std::result::Result<T, ParseError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_become_invalid_media_with_their_cause() {
        let e: Error = ParseError::new("stsz: 12 entries, 8 bytes").context("trak 2").into();
        assert_eq!(e.kind, ErrorKind::InvalidMedia);
        assert_eq!(e.message, "trak 2: stsz: 12 entries, 8 bytes");
        let cause = std::error::Error::source(&e).expect("cause kept");
        assert_eq!(cause.to_string(), "trak 2: stsz: 12 entries, 8 bytes");
        assert_eq!(e.clone().context("/m.mp4").message, "/m.mp4: trak 2: stsz: 12 entries, 8 bytes");
        assert_eq!(Error::from_parse(ErrorKind::Unsupported, ParseError::new("x")).kind, ErrorKind::Unsupported);
    }
}

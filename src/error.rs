//! The one error type of the safe core. The FFI layer maps [`ErrorKind`] to `HlsStatus`.

use std::fmt;

/// What kind of failure happened; each kind has a fixed C status value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
}

/// A failure with a human-readable message naming the file, stream and cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Category of the failure.
    pub kind: ErrorKind,
    /// Full explanation for logs and callers.
    pub message: String,
}

impl Error {
    /// Builds an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Result type of the safe core.
pub type Result<T> = std::result::Result<T, Error>;

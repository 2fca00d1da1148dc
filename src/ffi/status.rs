//! `HlsStatus`, the result of every fallible call: its fixed values, the mapping from
//! [`ErrorKind`], and `hls_status_str`. C passes a status back as an `int`, validated by
//! `HlsStatus::from_c`.

use std::ffi::{c_char, c_int, CStr};

use super::boundary::{ffi_boundary, PanicFallback};
use crate::error::ErrorKind;

/// Result of every fallible call. Values are fixed and never reused.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsStatus {
    /// Success.
    HLS_OK = 0,
    /// A required pointer argument was NULL.
    HLS_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    HLS_ERR_INVALID_UTF8 = 2,
    /// A malformed argument: bad config value, or a name with a leading '/', "..", '?' or control characters.
    HLS_ERR_INVALID_ARGUMENT = 3,
    /// The name is not named by any playlist of this media. Servers answer 404.
    HLS_ERR_NOT_FOUND = 4,
    /// The file is missing, is a directory, or cannot be read.
    HLS_ERR_IO = 5,
    /// The file is empty, truncated, corrupt, or not a media file.
    HLS_ERR_INVALID_MEDIA = 6,
    /// The file opened but has no audio or video track that can be served (e.g. subtitles only).
    HLS_ERR_NO_PLAYABLE_TRACKS = 7,
    /// The file changed on disk after it was indexed; open it again.
    HLS_ERR_FILE_CHANGED = 8,
    /// A codec or feature that libhls does not support.
    HLS_ERR_UNSUPPORTED = 9,
    /// An internal bug was caught at the API boundary (a panic); the call had no effect.
    HLS_ERR_PANIC = 10,
    /// Any other internal failure.
    HLS_ERR_INTERNAL = 11,
    /// The key provider failed or gave no usable key for a track to be encrypted; nothing is
    /// served in the clear instead.
    HLS_ERR_KEY_UNAVAILABLE = 12,
}

impl HlsStatus {
    /// Every status, in value order.
    const ALL: [HlsStatus; 13] = [
        HlsStatus::HLS_OK,
        HlsStatus::HLS_ERR_NULL_ARGUMENT,
        HlsStatus::HLS_ERR_INVALID_UTF8,
        HlsStatus::HLS_ERR_INVALID_ARGUMENT,
        HlsStatus::HLS_ERR_NOT_FOUND,
        HlsStatus::HLS_ERR_IO,
        HlsStatus::HLS_ERR_INVALID_MEDIA,
        HlsStatus::HLS_ERR_NO_PLAYABLE_TRACKS,
        HlsStatus::HLS_ERR_FILE_CHANGED,
        HlsStatus::HLS_ERR_UNSUPPORTED,
        HlsStatus::HLS_ERR_PANIC,
        HlsStatus::HLS_ERR_INTERNAL,
        HlsStatus::HLS_ERR_KEY_UNAVAILABLE,
    ];

    /// The status whose C value is `value`, if any: how a status passed in by C is read
    /// (never by transmuting the integer).
    pub fn from_c(value: c_int) -> Option<HlsStatus> {
        HlsStatus::ALL.into_iter().find(|s| *s as c_int == value)
    }

    /// Static name and meaning: "HLS_ERR_NOT_FOUND: ...".
    fn describe(self) -> &'static CStr {
        match self {
            HlsStatus::HLS_OK => c"HLS_OK: success",
            HlsStatus::HLS_ERR_NULL_ARGUMENT => c"HLS_ERR_NULL_ARGUMENT: a required pointer was NULL",
            HlsStatus::HLS_ERR_INVALID_UTF8 => c"HLS_ERR_INVALID_UTF8: a string argument is not UTF-8",
            HlsStatus::HLS_ERR_INVALID_ARGUMENT => c"HLS_ERR_INVALID_ARGUMENT: malformed argument",
            HlsStatus::HLS_ERR_NOT_FOUND => c"HLS_ERR_NOT_FOUND: no playlist names this",
            HlsStatus::HLS_ERR_IO => c"HLS_ERR_IO: file missing or unreadable",
            HlsStatus::HLS_ERR_INVALID_MEDIA => c"HLS_ERR_INVALID_MEDIA: empty, truncated, corrupt or not media",
            HlsStatus::HLS_ERR_NO_PLAYABLE_TRACKS => {
                c"HLS_ERR_NO_PLAYABLE_TRACKS: no audio or video track can be served"
            }
            HlsStatus::HLS_ERR_FILE_CHANGED => c"HLS_ERR_FILE_CHANGED: the file changed on disk; open it again",
            HlsStatus::HLS_ERR_UNSUPPORTED => c"HLS_ERR_UNSUPPORTED: not supported",
            HlsStatus::HLS_ERR_PANIC => c"HLS_ERR_PANIC: internal error caught at the API boundary",
            HlsStatus::HLS_ERR_INTERNAL => c"HLS_ERR_INTERNAL: internal error",
            HlsStatus::HLS_ERR_KEY_UNAVAILABLE => {
                c"HLS_ERR_KEY_UNAVAILABLE: the key provider gave no usable key; nothing served in the clear"
            }
        }
    }
}

impl From<ErrorKind> for HlsStatus {
    fn from(k: ErrorKind) -> HlsStatus {
        match k {
            ErrorKind::NullArgument => HlsStatus::HLS_ERR_NULL_ARGUMENT,
            ErrorKind::InvalidUtf8 => HlsStatus::HLS_ERR_INVALID_UTF8,
            ErrorKind::InvalidArgument => HlsStatus::HLS_ERR_INVALID_ARGUMENT,
            ErrorKind::NotFound => HlsStatus::HLS_ERR_NOT_FOUND,
            ErrorKind::Io => HlsStatus::HLS_ERR_IO,
            ErrorKind::InvalidMedia => HlsStatus::HLS_ERR_INVALID_MEDIA,
            ErrorKind::NoPlayableTracks => HlsStatus::HLS_ERR_NO_PLAYABLE_TRACKS,
            ErrorKind::FileChanged => HlsStatus::HLS_ERR_FILE_CHANGED,
            ErrorKind::Unsupported => HlsStatus::HLS_ERR_UNSUPPORTED,
            ErrorKind::Panic => HlsStatus::HLS_ERR_PANIC,
            ErrorKind::Internal => HlsStatus::HLS_ERR_INTERNAL,
            ErrorKind::KeyUnavailable => HlsStatus::HLS_ERR_KEY_UNAVAILABLE,
        }
    }
}

/// A status-returning export that panicked returns `HLS_ERR_PANIC`.
impl PanicFallback for HlsStatus {
    fn on_panic() -> HlsStatus {
        HlsStatus::HLS_ERR_PANIC
    }
}

/// What `hls_status_str` returns for a value that is no `HlsStatus`.
const UNKNOWN_STATUS: &CStr = c"unknown status";

/// Static, human-readable name and meaning of a status ("HLS_ERR_NOT_FOUND: ..."), or
/// "unknown status" for a value that is not an `HlsStatus`.
///
/// `status`: an `HlsStatus` value, passed as `int` (any `int` is accepted). The returned string
/// is static: never NULL, never freed.
#[no_mangle]
pub extern "C" fn hls_status_str(status: c_int) -> *const c_char {
    ffi_boundary! {
        HlsStatus::from_c(status).map_or(UNKNOWN_STATUS, HlsStatus::describe).as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(status: c_int) -> &'static str {
        // SAFETY: hls_status_str returns static NUL-terminated strings.
        unsafe { CStr::from_ptr(hls_status_str(status)) }.to_str().unwrap()
    }

    #[test]
    fn values_round_trip_and_out_of_range_values_are_unknown() {
        for (i, s) in HlsStatus::ALL.into_iter().enumerate() {
            assert_eq!(s as usize, i);
            assert_eq!(HlsStatus::from_c(i as c_int), Some(s));
            assert!(text(i as c_int).starts_with(&format!("{s:?}: ")), "{s:?}");
        }
        for bad in [13, 14, -1, 99, c_int::MIN, c_int::MAX] {
            assert_eq!(HlsStatus::from_c(bad), None);
            assert_eq!(text(bad), "unknown status");
        }
    }
}

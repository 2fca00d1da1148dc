//! `HlsBuffer`: bytes handed to C without a copy (a playlist, a segment, or JSON), and
//! `hls_free_buffer`.

use std::ffi::{c_char, c_void, CStr};
use std::ptr::{self, NonNull};

use super::boundary::{ffi_boundary, into_handle, opt_mut, take_handle};
use crate::engine::{mime, Bytes};

/// Bytes returned by libhls: a playlist, a segment, or JSON.
///
/// The struct itself is the caller's (usually a zero-initialised local). Callers pass it to a
/// call, read `data`/`len`/`content_type`, and release it with `hls_free_buffer`. `data` is
/// owned by libhls and stays valid until then, even if the cache evicts the entry or the media
/// is closed meanwhile. Never free `data` yourself. A failing call leaves the buffer untouched.
#[repr(C)]
pub struct HlsBuffer {
    /// The bytes (owned by libhls).
    pub data: *const u8,
    /// Number of bytes.
    pub len: usize,
    /// Static MIME type string (never freed): "application/vnd.apple.mpegurl", "video/mp4",
    /// "audio/mp4", "text/vtt" or "application/json".
    pub content_type: *const c_char,
    /// Private to libhls: the reference that keeps `data` alive.
    pub _private: *mut c_void,
}

/// The static C string of a MIME type from `engine::mime`.
pub(super) fn content_type_ptr(ct: &str) -> *const c_char {
    let s: &'static CStr = match ct {
        mime::M3U8 => c"application/vnd.apple.mpegurl",
        mime::VIDEO_MP4 => c"video/mp4",
        mime::AUDIO_MP4 => c"audio/mp4",
        mime::VTT => c"text/vtt",
        mime::JPEG => c"image/jpeg",
        mime::JSON => c"application/json",
        _ => c"application/octet-stream",
    };
    s.as_ptr()
}

/// Fills `*out` with a reference to `bytes` (no copy), for `hls_free_buffer` to release.
///
/// # Safety
/// `out` is valid for writing an `HlsBuffer`. Whatever it held before is overwritten, not freed.
pub(crate) unsafe fn fill(out: NonNull<HlsBuffer>, bytes: Bytes, content_type: &str) {
    let data = bytes.as_ptr();
    let len = bytes.len();
    let holder = into_handle(bytes);
    let buf = HlsBuffer { data, len, content_type: content_type_ptr(content_type), _private: holder.cast() };
    // SAFETY: per the caller, out is valid for writes; HlsBuffer has no destructor to skip.
    unsafe { out.write(buf) };
}

/// Releases a buffer's bytes and zeroes it. NULL-tolerant and idempotent.
///
/// # Safety
/// `buf`: NULL, or the caller's `HlsBuffer`, zeroed or filled by a libhls call. Its bytes
/// become invalid; the struct itself stays the caller's.
#[no_mangle]
pub unsafe extern "C" fn hls_free_buffer(buf: *mut HlsBuffer) {
    ffi_boundary! {
        // SAFETY: per the contract, buf is NULL or the caller's buffer, not used by another call.
        if let Some(b) = unsafe { opt_mut(buf) } {
            // The bytes' last holder gives their memory back for reuse.
            // SAFETY: _private is NULL or the holder made by `fill` and not freed before: freeing
            // zeroes it.
            if let Some(bytes) = unsafe { take_handle(b._private.cast::<Bytes>()) } {
                crate::engine::pool::recycle(*bytes);
            }
            *b = HlsBuffer { data: ptr::null(), len: 0, content_type: ptr::null(), _private: ptr::null_mut() };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_type_reaches_c_as_itself() {
        for ct in [mime::M3U8, mime::VIDEO_MP4, mime::AUDIO_MP4, mime::VTT, mime::JPEG, mime::JSON] {
            // SAFETY: content_type_ptr returns a static NUL-terminated string.
            let c = unsafe { CStr::from_ptr(content_type_ptr(ct)) };
            assert_eq!(c.to_str().unwrap(), ct);
        }
    }
}

//! `HlsOpenOptions`, how one media is opened (`hls_open_with`): the options that make a
//! presentation differ from the whole file served in the clear. Setters are added per feature.

use super::boundary::{ffi_boundary, into_handle, take_handle};
use crate::model::open::OpenOptions;

/// Per-open options for `hls_open_with`. Create with `hls_open_options_new`, free with
/// `hls_open_options_free`. Opens of one file with equal options share one presentation (its
/// index and cache entries); different options are different presentations. `hls_open_with`
/// copies what it needs: the options may be freed or reused right after the call.
pub struct HlsOpenOptions {
    pub(super) options: OpenOptions,
}

/// New options with defaults (the whole file, in the clear, as `hls_open` serves it). NULL only
/// if out of memory. The caller owns them and frees them with `hls_open_options_free`.
#[no_mangle]
pub extern "C" fn hls_open_options_new() -> *mut HlsOpenOptions {
    ffi_boundary! { into_handle(HlsOpenOptions { options: OpenOptions::default() }) }
}

/// Frees open options. NULL-tolerant. Media opened with them keep their own copy.
///
/// # Safety
/// `opts`: NULL or options from `hls_open_options_new`, not freed before, not used by another
/// call meanwhile; invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn hls_open_options_free(opts: *mut HlsOpenOptions) {
    ffi_boundary! {
        // SAFETY: per the contract, opts is NULL or from hls_open_options_new and not freed
        // before.
        drop(unsafe { take_handle(opts) })
    }
}

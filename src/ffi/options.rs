//! `HlsOpenOptions`, how one media is opened (`hls_open_with`): the options that make a
//! presentation differ from the whole file served in the clear. Setters are added per feature.

use super::boundary::{arg_mut, ffi_boundary, into_handle, opt_ref, take_handle};
use super::error::ErrorOut;
use super::keys::{c_provider, HlsKeyInfo, HlsKeyProvider};
use super::status::HlsStatus;
use crate::error::{Error, ErrorKind};
use crate::model::encryption::{Encryption, Method};
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

// --- encryption (issue #17) ---

/// Encrypts this open with one static key for every audio and video rendition (and WebVTT if
/// `info` says so): `info` is copied; NULL removes the override (the context's key provider,
/// if any, applies again). A key whose method is NONE serves the open in the clear even when
/// the context has a provider. Opens with equal keys share one presentation; each distinct key
/// is its own presentation (indexed once per key). `HLS_ERR_INVALID_ARGUMENT` if the method
/// encrypts and `info` has no key URI.
///
/// # Safety
/// `opts`: live options, not used by another call meanwhile. `info`: NULL or a live key info,
/// borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_open_options_set_encryption(
    opts: *mut HlsOpenOptions,
    info: *const HlsKeyInfo,
) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        let o = unsafe { arg_mut(opts, "opts") }?;
        // SAFETY: per the contract, info is NULL or a live key info.
        match unsafe { opt_ref(info) } {
            None => o.options.encryption = None,
            Some(i) => {
                i.key.validate().map_err(|e| Error::new(ErrorKind::InvalidArgument, e))?;
                if i.key.method == Method::SampleAes {
                    // Checked per rendition at open (which codecs have a cbcs layout).
                    log::debug!("static SAMPLE-AES key set");
                }
                o.options.encryption = Some(Encryption::Static(i.key.clone()));
            }
        }
        Ok(())
    }
}

/// Encrypts this open as `provider` answers (NULL removes the override), instead of the
/// context's provider. The same function and `userdata` are the same provider: opens with them
/// share one presentation and its keys (the provider is asked once per media and rendition);
/// give each key set (user, session) its own `userdata` for keys of its own.
///
/// # Safety
/// `opts`: live options, not used by another call meanwhile. `userdata`: never dereferenced by
/// libhls; it must stay valid, and `provider` callable from any thread, while media opened
/// with these options are being opened.
#[no_mangle]
pub unsafe extern "C" fn hls_open_options_set_key_provider(
    opts: *mut HlsOpenOptions,
    provider: HlsKeyProvider,
    userdata: *mut std::ffi::c_void,
) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        let o = unsafe { arg_mut(opts, "opts") }?;
        o.options.encryption = provider.map(|f| Encryption::Provider(c_provider(f, userdata)));
        Ok(())
    }
}
// --- end encryption ---

//! `HlsOpenOptions`, how one media is opened (`hls_open_with`): the options that make a
//! presentation differ from the whole file served in the clear. Setters are added per feature.

use std::ffi::{c_char, c_int};

use super::boundary::{arg_mut, arg_str, ffi_boundary, into_handle, opt_ref, take_handle};
use super::error::ErrorOut;
use super::keys::{c_provider, HlsKeyInfo, HlsKeyProvider};
use super::status::HlsStatus;
use crate::error::{Error, ErrorKind};
use crate::model::encryption::{Encryption, Method};
use crate::model::open::{Clip, ClipPolicy, OpenOptions};

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

/// A copy of `opts` (NULL: new default options), owned by the caller and freed with
/// `hls_open_options_free`: a server keeps per-location options (keys) and adds per-request
/// ones (a clip) to a copy. NULL only if out of memory.
///
/// # Safety
/// `opts`: NULL or live options, borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_open_options_clone(opts: *const HlsOpenOptions) -> *mut HlsOpenOptions {
    ffi_boundary! {
        // SAFETY: per the contract, opts is NULL or live options.
        let options = unsafe { opt_ref(opts) }.map(|o| o.options.clone()).unwrap_or_default();
        into_handle(HlsOpenOptions { options })
    }
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

// --- clip ---

/// Clip policy values for `hls_open_options_set_clip` (passed as `int`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsClipPolicy {
    /// Default: the clip decodes from the keyframe at or before `from_ms`, and the init
    /// segments' edit lists hide what precedes `from_ms`: players that apply edit lists (Safari,
    /// FFmpeg, Chromium's MSE) start exactly at `from_ms`.
    HLS_CLIP_KEYFRAME_ALIGNED = 0,
    /// The clip starts at the first keyframe at or after `from_ms`; nothing is hidden.
    HLS_CLIP_KEYFRAME_FORWARD = 1,
}

impl HlsClipPolicy {
    /// The policy whose C value is `value`, if any.
    pub fn from_c(value: c_int) -> Option<HlsClipPolicy> {
        [HlsClipPolicy::HLS_CLIP_KEYFRAME_ALIGNED, HlsClipPolicy::HLS_CLIP_KEYFRAME_FORWARD]
            .into_iter()
            .find(|p| *p as c_int == value)
    }
}

/// Opens the media as a clip: only `[from_ms, to_ms)` of its presentation (milliseconds;
/// `to_ms` 0 or `UINT64_MAX`: to the end), starting as `policy` (an `HlsClipPolicy`) says.
/// Audio is cut on its own frames and subtitles to the range; the clip is its own presentation
/// (its cache entries never mix with the whole file's). `HLS_ERR_INVALID_ARGUMENT` for an
/// unknown policy or `from_ms >= to_ms`; a `from_ms` at or beyond the media's end fails at
/// `hls_open_with`, with `HLS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `opts`: options from `hls_open_options_new`, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_open_options_set_clip(
    opts: *mut HlsOpenOptions,
    from_ms: u64,
    to_ms: u64,
    policy: c_int,
) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, opts is NULL or options no other call uses.
        let o = unsafe { arg_mut(opts, "options") }?;
        let Some(policy) = HlsClipPolicy::from_c(policy) else {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("clip policy {policy} is not an HlsClipPolicy")));
        };
        let to_ms = (to_ms != 0 && to_ms != u64::MAX).then_some(to_ms);
        if to_ms.is_some_and(|t| from_ms >= t) {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("clip: from {from_ms} ms is not before to {} ms", to_ms.unwrap_or(0))));
        }
        let policy = match policy {
            HlsClipPolicy::HLS_CLIP_KEYFRAME_ALIGNED => ClipPolicy::KeyframeAligned,
            HlsClipPolicy::HLS_CLIP_KEYFRAME_FORWARD => ClipPolicy::KeyframeForward,
        };
        o.options.clip = Some(Clip { from_ms, to_ms, policy });
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

/// Appends `?<query>` to every URI the presentation's playlists write (NULL or "": nothing),
/// so that a server which opens presentations by query arguments (a clip's
/// `clip_from=…&clip_to=…`) gets them back on every request; names passed to `hls_get` are
/// always without it. `HLS_ERR_INVALID_ARGUMENT` unless every byte is a printable ASCII
/// character other than space, `"`, `#` and `?`.
///
/// # Safety
/// `opts`: options from `hls_open_options_new`, not used by another call meanwhile; `query`:
/// NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn hls_open_options_set_uri_query(opts: *mut HlsOpenOptions, query: *const c_char) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract, opts is NULL or options no other call uses.
        let o = unsafe { arg_mut(opts, "options") }?;
        // SAFETY: per the contract, query is NULL or NUL-terminated.
        let q = if query.is_null() { "" } else { unsafe { arg_str(query, "query") }? };
        if !q.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'#' | b'?')) {
            return Err(Error::new(ErrorKind::InvalidArgument, "query: printable ASCII only, without space, '\"', '#' or '?'"));
        }
        o.options.uri_query = (!q.is_empty()).then(|| q.to_owned());
        Ok(())
    }
}

//! `HlsKeyInfo`, the key of a track and how playlists announce it: filled by the caller with
//! its setters, for a static key (`hls_open_options_set_encryption`) or inside a key provider
//! (`hls_config_set_key_provider`, `hls_open_options_set_key_provider`), and the
//! `HlsEncryptionMethod` and `HlsIvPolicy` values.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Arc;

use super::boundary::{arg_mut, arg_str, ffi_boundary, into_handle, take_handle};
use super::error::ErrorOut;
use super::status::HlsStatus;
use crate::error::{Error, ErrorKind};
use crate::model::encryption::{IvPolicy, KeyProvider, KeyRequest, Method, TrackKey};

/// Encryption methods for `hls_key_info_set_method` (passed as `int`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsEncryptionMethod {
    /// In the clear (the default of a new `HlsKeyInfo`).
    HLS_ENCRYPTION_NONE = 0,
    /// Whole media segments AES-128-CBC with PKCS7 padding (`METHOD=AES-128`); init segments
    /// stay clear.
    HLS_ENCRYPTION_AES_128 = 1,
    /// Samples encrypted in place, CMAF `cbcs` (`METHOD=SAMPLE-AES`).
    HLS_ENCRYPTION_SAMPLE_AES = 2,
}

impl HlsEncryptionMethod {
    /// The method whose C value is `value`, if any (never by transmuting the integer).
    pub fn from_c(value: c_int) -> Option<HlsEncryptionMethod> {
        [
            HlsEncryptionMethod::HLS_ENCRYPTION_NONE,
            HlsEncryptionMethod::HLS_ENCRYPTION_AES_128,
            HlsEncryptionMethod::HLS_ENCRYPTION_SAMPLE_AES,
        ]
        .into_iter()
        .find(|m| *m as c_int == value)
    }
}

/// IV policies for `hls_key_info_set_iv` (passed as `int`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsIvPolicy {
    /// The segment's media sequence number (0 for the first segment), 128-bit big-endian; no
    /// `IV` attribute is written (RFC 8216 §5.2). The default.
    HLS_IV_SEGMENT_NUMBER = 0,
    /// One 16-byte IV for every segment, written as `IV=0x…`.
    HLS_IV_CONSTANT = 1,
}

impl HlsIvPolicy {
    /// The policy whose C value is `value`, if any.
    pub fn from_c(value: c_int) -> Option<HlsIvPolicy> {
        [HlsIvPolicy::HLS_IV_SEGMENT_NUMBER, HlsIvPolicy::HLS_IV_CONSTANT].into_iter().find(|p| *p as c_int == value)
    }
}

/// The key of a track and how it is announced. Created by `hls_key_info_new` (owned by the
/// caller, freed with `hls_key_info_free`) or handed to a key provider (owned by libhls, valid
/// during that call only). Every setter copies what it is given. Never holds a pointer of the
/// caller's.
pub struct HlsKeyInfo {
    pub(super) key: TrackKey,
}

fn invalid(message: &str) -> Error {
    Error::new(ErrorKind::InvalidArgument, message.to_string())
}

/// The key behind `info` (the first step of every setter).
///
/// # Safety
/// `info` is NULL or a live `HlsKeyInfo` that no other call uses meanwhile.
unsafe fn key<'a>(info: *mut HlsKeyInfo) -> Result<&'a mut TrackKey, Error> {
    // SAFETY: per this function's contract.
    unsafe { arg_mut(info, "info") }.map(|i| &mut i.key)
}

/// 16 bytes at `p`.
///
/// # Safety
/// `p` is NULL or points to 16 readable bytes.
unsafe fn bytes16(p: *const u8, what: &str) -> Result<[u8; 16], Error> {
    if p.is_null() {
        return Err(super::boundary::null_arg(what));
    }
    let mut out = [0u8; 16];
    // SAFETY: p is not NULL and, per the contract, points to 16 readable bytes.
    out.copy_from_slice(unsafe { std::slice::from_raw_parts(p, 16) });
    Ok(out)
}

/// A new key info: method NONE, zero key and key ID, IV from the segment number, no URI. NULL
/// only if out of memory. The caller owns it and frees it with `hls_key_info_free`.
#[no_mangle]
pub extern "C" fn hls_key_info_new() -> *mut HlsKeyInfo {
    ffi_boundary! { into_handle(HlsKeyInfo { key: TrackKey::default() }) }
}

/// Frees a key info from `hls_key_info_new`. NULL-tolerant. Never call it on the `HlsKeyInfo`
/// a key provider is handed (libhls owns that one).
///
/// # Safety
/// `info`: NULL or from `hls_key_info_new`, not freed before, not used by another call
/// meanwhile; invalid afterwards.
#[no_mangle]
pub unsafe extern "C" fn hls_key_info_free(info: *mut HlsKeyInfo) {
    ffi_boundary! {
        // SAFETY: per the contract, info is NULL or from hls_key_info_new and not freed before.
        drop(unsafe { take_handle(info) })
    }
}

/// Sets the method (an `HlsEncryptionMethod` value; others are `HLS_ERR_INVALID_ARGUMENT`).
///
/// # Safety
/// `info`: a live key info, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_key_info_set_method(info: *mut HlsKeyInfo, method: c_int) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        let k = unsafe { key(info) }?;
        k.method = match HlsEncryptionMethod::from_c(method) {
            Some(HlsEncryptionMethod::HLS_ENCRYPTION_NONE) => Method::None,
            Some(HlsEncryptionMethod::HLS_ENCRYPTION_AES_128) => Method::Aes128,
            Some(HlsEncryptionMethod::HLS_ENCRYPTION_SAMPLE_AES) => Method::SampleAes,
            None => return Err(invalid(&format!("encryption method {method} is not an HlsEncryptionMethod"))),
        };
        Ok(())
    }
}

/// Sets the 16-byte AES-128 key (copied).
///
/// # Safety
/// `info`: a live key info, not used by another call meanwhile. `key16`: 16 readable bytes,
/// borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_key_info_set_key(info: *mut HlsKeyInfo, key16: *const u8) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        let k = unsafe { key(info) }?;
        // SAFETY: per the contract.
        k.key = unsafe { bytes16(key16, "key") }?;
        Ok(())
    }
}

/// Sets the 16-byte key ID (copied; written as the default KID of SAMPLE-AES init segments).
///
/// # Safety
/// As `hls_key_info_set_key`.
#[no_mangle]
pub unsafe extern "C" fn hls_key_info_set_key_id(info: *mut HlsKeyInfo, key_id16: *const u8) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        let k = unsafe { key(info) }?;
        // SAFETY: per the contract.
        k.key_id = unsafe { bytes16(key_id16, "key_id") }?;
        Ok(())
    }
}

/// Sets the IV policy (an `HlsIvPolicy` value). `iv16`: 16 bytes for `HLS_IV_CONSTANT`
/// (copied), ignored (may be NULL) for `HLS_IV_SEGMENT_NUMBER`.
///
/// # Safety
/// `info`: a live key info, not used by another call meanwhile. `iv16`: NULL or 16 readable
/// bytes, borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_key_info_set_iv(info: *mut HlsKeyInfo, policy: c_int, iv16: *const u8) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        let k = unsafe { key(info) }?;
        k.iv = match HlsIvPolicy::from_c(policy) {
            Some(HlsIvPolicy::HLS_IV_SEGMENT_NUMBER) => IvPolicy::SegmentNumber,
            // SAFETY: per the contract.
            Some(HlsIvPolicy::HLS_IV_CONSTANT) => IvPolicy::Constant(unsafe { bytes16(iv16, "iv") }?),
            None => return Err(invalid(&format!("IV policy {policy} is not an HlsIvPolicy"))),
        };
        Ok(())
    }
}

/// Sets the key URI written in playlists (UTF-8, copied; no `"` or line break). The caller's
/// server serves the key there; libhls never serves keys.
///
/// # Safety
/// `info`: a live key info, not used by another call meanwhile. `uri`: borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_key_info_set_uri(info: *mut HlsKeyInfo, uri: *const c_char) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        let k = unsafe { key(info) }?;
        // SAFETY: per the contract.
        let uri = unsafe { arg_str(uri, "uri") }?;
        if uri.is_empty() || uri.contains(['"', '\n', '\r']) {
            return Err(invalid("the key URI is empty or holds a quote or a line break"));
        }
        k.uri = uri.to_string();
        Ok(())
    }
}

/// Sets `KEYFORMAT` and `KEYFORMATVERSIONS` (each NULL: not written; copied), e.g.
/// `"com.apple.streamingkeydelivery"` and `"1"` for FairPlay.
///
/// # Safety
/// `info`: a live key info, not used by another call meanwhile. `keyformat`, `versions`: NULL
/// or borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_key_info_set_keyformat(
    info: *mut HlsKeyInfo,
    keyformat: *const c_char,
    versions: *const c_char,
) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        let k = unsafe { key(info) }?;
        let text = |p: *const c_char, what: &str| -> Result<Option<String>, Error> {
            if p.is_null() {
                return Ok(None);
            }
            // SAFETY: per the contract, p is a NUL-terminated string borrowed for the call.
            let s = unsafe { arg_str(p, what) }?;
            if s.contains(['"', '\n', '\r']) {
                return Err(invalid(&format!("{what} holds a quote or a line break")));
            }
            Ok(Some(s.to_string()))
        };
        k.keyformat = text(keyformat, "keyformat")?;
        k.keyformat_versions = text(versions, "versions")?;
        Ok(())
    }
}

/// Adds `len` bytes of whole `pssh` boxes (copied) to what SAMPLE-AES init segments carry.
///
/// # Safety
/// `info`: a live key info, not used by another call meanwhile. `pssh`: `len` readable bytes,
/// borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hls_key_info_add_pssh(info: *mut HlsKeyInfo, pssh: *const u8, len: usize) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        let k = unsafe { key(info) }?;
        if pssh.is_null() {
            return Err(super::boundary::null_arg("pssh"));
        }
        // SAFETY: pssh is not NULL and, per the contract, `len` readable bytes.
        let data = unsafe { std::slice::from_raw_parts(pssh, len) };
        let mut trial = k.clone();
        trial.pssh.extend_from_slice(data);
        trial.method = Method::SampleAes;
        trial.uri = "x".into();
        trial.subtitles = false;
        trial.validate().map_err(|e| invalid(&e))?;
        k.pssh.extend_from_slice(data);
        Ok(())
    }
}

/// Whether WebVTT subtitle segments are encrypted too (AES-128 only; default 0: subtitles stay
/// clear).
///
/// # Safety
/// `info`: a live key info, not used by another call meanwhile.
#[no_mangle]
pub unsafe extern "C" fn hls_key_info_set_encrypt_subtitles(info: *mut HlsKeyInfo, enabled: c_int) -> HlsStatus {
    ffi_boundary! { report(ErrorOut::NONE) =>
        // SAFETY: per the contract.
        unsafe { key(info) }?.subtitles = enabled != 0;
        Ok(())
    }
}

/// A key provider. libhls calls it from any thread (possibly several at once), at most once
/// per opened media and rendition, while opening; the answer is kept with the opened media
/// (asked again only when the file is indexed again). It fills `out` with the setters above
/// (it starts as from `hls_key_info_new`: method NONE = that rendition in the clear) and
/// returns 0; any other value fails the open with `HLS_ERR_KEY_UNAVAILABLE` (nothing is ever
/// served in the clear instead).
///
/// Arguments, all owned by libhls and valid during the call only: `userdata` as registered;
/// `path` the media's path; `rendition` the rendition's name (`t1`, `t2a`: its playlist is
/// `<rendition>.m3u8`); `kind` `"video"`, `"audio"` or `"subtitle"`; `codec` the RFC 6381
/// codec served (`""` for subtitles); `out` where the key goes (never free it).
pub type HlsKeyProvider = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        path: *const c_char,
        rendition: *const c_char,
        kind: *const c_char,
        codec: *const c_char,
        out: *mut HlsKeyInfo,
    ) -> c_int,
>;

/// The caller's userdata, handed back to its provider from any thread (the contract of
/// `HlsKeyProvider` says it may be).
struct UserData(*mut c_void);

// SAFETY: libhls never dereferences the pointer; the caller promises (HlsKeyProvider) that its
// provider may be called with it from any thread at once.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// A provider calling `f` with `userdata`; the same function and userdata are the same
/// provider (opens with them share one presentation).
pub(super) fn c_provider(
    f: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        *const c_char,
        *const c_char,
        *const c_char,
        *mut HlsKeyInfo,
    ) -> c_int,
    userdata: *mut c_void,
) -> KeyProvider {
    let ud = UserData(userdata);
    let identity = Some((f as usize, userdata as usize));
    let call = move |req: &KeyRequest| -> Result<TrackKey, String> {
        let c = |s: &str| CString::new(s).map_err(|_| format!("{s:?} holds a NUL byte"));
        let (path, rendition, kind, codec) = (c(&req.location)?, c(&req.rendition)?, c(req.kind)?, c(&req.codec)?);
        let mut info = HlsKeyInfo { key: TrackKey::default() };
        let ud = &ud;
        // SAFETY: the strings and `info` live across the call; the provider's contract
        // (HlsKeyProvider) says it only reads them and fills `info` through the setters.
        let rc = unsafe { f(ud.0, path.as_ptr(), rendition.as_ptr(), kind.as_ptr(), codec.as_ptr(), &mut info) };
        if rc != 0 {
            return Err(format!("the provider returned {rc}"));
        }
        Ok(info.key)
    };
    KeyProvider { f: Arc::new(call), identity }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_iv_policies_are_validated() {
        assert_eq!(HlsEncryptionMethod::from_c(1), Some(HlsEncryptionMethod::HLS_ENCRYPTION_AES_128));
        assert_eq!(HlsEncryptionMethod::from_c(3), None);
        assert_eq!(HlsIvPolicy::from_c(1), Some(HlsIvPolicy::HLS_IV_CONSTANT));
        assert_eq!(HlsIvPolicy::from_c(-1), None);
        let info = hls_key_info_new();
        // SAFETY: info is live and used by this thread only.
        unsafe {
            assert_eq!(hls_key_info_set_method(info, 7), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
            assert_eq!(hls_key_info_set_iv(info, 1, std::ptr::null()), HlsStatus::HLS_ERR_NULL_ARGUMENT);
            assert_eq!(hls_key_info_set_uri(info, c"a\"b".as_ptr()), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
            assert_eq!(hls_key_info_add_pssh(info, [0u8, 0, 0, 9].as_ptr(), 4), HlsStatus::HLS_ERR_INVALID_ARGUMENT);
            assert_eq!((*info).key.method, Method::None);
            assert!((*info).key.pssh.is_empty());
            hls_key_info_free(info);
        }
    }
}
